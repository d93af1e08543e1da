import MprefCore
import Foundation
import Yams

/// The config file as Yams sees it: checked key by key against ``ConfigKeys/root`` before any value
/// is read, so a misspelt key is an error rather than a silently ignored line.
///
/// swift-configuration's `ConfigReader` answers "what is the value of this key", but cannot list the
/// keys a file has; this type does the listing (account client IDs, unknown keys).
struct ConfigurationFile: Sendable {
    /// The path as given.
    var path: String
    /// The client IDs under `accounts:`, in file order.
    var accountIDs: [ClientID]
    /// Dotted paths of every value present in the file (`polling.max_delay_s`), to tell where an
    /// effective value came from.
    var valuePaths: Set<String>
    /// Whether the file holds no keys at all (empty, only comments, or `~`).
    var isEmpty: Bool

    /// Reads and checks the file at `path`.
    ///
    /// - Throws: `MprefdError` (exit 78) when the file is unreadable, not YAML, not a mapping at the
    ///   top, has an unknown key (naming its path, line and the allowed keys), a value of the wrong
    ///   shape (a list where one value belongs, …), or an account key that is not a valid client ID.
    init(path: String) throws {
        self.path = path
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            throw MprefdError.configuration(
                "config file \(path) is a directory; name the YAML file in it, e.g. \(path)/mprefd.yaml")
        }
        // Read through a file handle so that devices work too (`--config /dev/null`: no configuration).
        let data: Data
        do {
            guard let handle = FileHandle(forReadingAtPath: path) else {
                let reason = FileManager.default.fileExists(atPath: path) ? "permission denied" : "it does not exist"
                throw MprefdError.configuration(
                    "cannot read config file \(path): \(reason); check the path and its permissions")
            }
            defer { try? handle.close() }
            data = try handle.readToEnd() ?? Data()
        } catch let error as MprefdError {
            throw error
        } catch {
            throw MprefdError.configuration(
                "cannot read config file \(path): \(Self.reason(error)); check the path and its permissions")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw MprefdError.configuration("config file \(path) is not UTF-8 text; save it as UTF-8 YAML")
        }
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch {
            // Only the parser's first line (position and problem): the lines after it quote the
            // file's text, which may hold an inline secret.
            let first =
                String(describing: error).split(separator: "\n", omittingEmptySubsequences: true).first.map(String.init)
                ?? "unreadable"
            throw MprefdError.configuration(
                "config file \(path) is not valid YAML: \(TerminalText.escaped(first)); the offending line is not shown, as it may hold a secret"
            )
        }
        var walker = Walker(path: path)
        isEmpty = root == nil || root?.null != nil
        if let root, !isEmpty {
            try walker.check(root, shape: ConfigKeys.root, at: [])
        }
        accountIDs = walker.accountIDs
        valuePaths = walker.valuePaths
    }

    private static func reason(_ error: any Error) -> String {
        let nsError = error as NSError
        if let underlying = nsError.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain
        {
            return String(cString: strerror(Int32(underlying.code)))
        }
        return nsError.localizedDescription
    }

    private struct Walker {
        let path: String
        var accountIDs: [ClientID] = []
        var valuePaths: Set<String> = []

        init(path: String) { self.path = path }

        func location(_ node: Node) -> String {
            node.mark.map { "\(path):\($0.line)" } ?? path
        }

        func name(_ keyPath: [String]) -> String {
            keyPath.isEmpty ? "the top level" : "'\(keyPath.joined(separator: "."))'"
        }

        mutating func check(_ node: Node, shape: ConfigKeys.Shape, at keyPath: [String]) throws {
            switch shape {
            case .key(let key) where key.unit != .commands:
                guard node.scalar != nil else {
                    throw MprefdError.configuration(
                        "\(location(node)): \(name(keyPath)) must be a single value, not a \(kind(node))")
                }
                valuePaths.insert(keyPath.joined(separator: "."))
            case .key:
                if node.null != nil { valuePaths.insert(keyPath.joined(separator: ".")); return }
                guard let sequence = node.sequence, sequence.allSatisfy({ $0.scalar != nil }) else {
                    throw MprefdError.configuration(
                        "\(location(node)): \(name(keyPath)) must be a list of shell command lines, e.g. [\"/usr/local/bin/load-export\"]"
                    )
                }
                valuePaths.insert(keyPath.joined(separator: "."))
            case .section(let keys):
                if node.null != nil { return }
                guard let mapping = node.mapping else {
                    throw MprefdError.configuration(
                        "\(location(node)): \(name(keyPath)) must be a mapping with keys: \(shape.allowedKeys)")
                }
                for (keyNode, valueNode) in mapping {
                    guard let key = keyNode.scalar?.string else {
                        throw MprefdError.configuration(
                            "\(location(keyNode)): a key under \(name(keyPath)) is not a plain string")
                    }
                    guard let child = keys.first(where: { $0.0 == key })?.1 else {
                        let full = (keyPath + [key]).joined(separator: ".")
                        let under = keyPath.isEmpty ? "at the top level" : "under '\(keyPath.joined(separator: "."))'"
                        throw MprefdError.configuration(
                            "\(location(keyNode)): unknown key '\(full)'; allowed keys \(under): \(shape.allowedKeys)")
                    }
                    try check(valueNode, shape: child, at: keyPath + [key])
                }
            case .accounts(let account):
                if node.null != nil { return }
                guard let mapping = node.mapping else {
                    throw MprefdError.configuration(
                        "\(location(node)): 'accounts' must be a mapping keyed by MyPreferences client ID, e.g. accounts: { ACME_Co: { auth: { scheme: none } } }"
                    )
                }
                for (keyNode, valueNode) in mapping {
                    guard let text = keyNode.scalar?.string, let clientID = ClientID(text) else {
                        let shown = keyNode.scalar?.string ?? kind(keyNode)
                        throw MprefdError.configuration(
                            "\(location(keyNode)): account key '\(shown)' under 'accounts' is not a valid client ID; \(ClientID.rule)"
                        )
                    }
                    accountIDs.append(clientID)
                    try check(valueNode, shape: account, at: keyPath + [clientID.value])
                }
            }
        }

        func kind(_ node: Node) -> String {
            switch node {
            case .scalar: "single value"
            case .mapping: "mapping"
            case .sequence: "list"
            case .alias: "alias"
            }
        }
    }
}
