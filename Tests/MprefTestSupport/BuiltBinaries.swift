import Foundation

/// The package's executables that the end-to-end tests start, and the package root they are found from.
///
/// `mprefd` is the binary named by `$MPREFD_BINARY` when it is set and not empty: `make test` builds the
/// release binary that `make install` ships (`make release`: optimized, the Swift runtime linked in) and
/// names it there, so the end-to-end tests run what users run. Without it (a bare `swift test`), the debug
/// build that `swift build` leaves in `.build/debug`. `mpref-sim` is always the debug build.
package enum BuiltBinaries {
    /// The package root: three levels above this file (`Tests/MprefTestSupport/BuiltBinaries.swift`).
    package static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    /// Absolute path of the `mprefd` binary under test (see the type's documentation).
    package static let mprefd: String = {
        if let path = ProcessInfo.processInfo.environment["MPREFD_BINARY"], !path.isEmpty { return path }
        return debug("mprefd")
    }()

    /// Why ``mprefd`` is not there, and what to do, for a test's failure message.
    package static var mprefdMissing: String {
        ProcessInfo.processInfo.environment["MPREFD_BINARY"].map { !$0.isEmpty } == true
            ? "no executable at \(mprefd), which MPREFD_BINARY names (make test builds it: make release)"
            : "no executable at \(mprefd): build it first (swift build --product mprefd)"
    }

    /// Absolute path of the debug `mpref-sim` binary.
    package static let mprefSim = debug("mpref-sim")

    /// `relative` (e.g. `etc/hooks`) under the package root, as an absolute path.
    package static func path(_ relative: String) -> String {
        packageRoot.appendingPathComponent(relative).path
    }

    private static func debug(_ product: String) -> String {
        packageRoot.appendingPathComponent(".build/debug/\(product)").path
    }
}
