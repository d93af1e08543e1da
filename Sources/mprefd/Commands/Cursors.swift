import ArgumentParser
import Foundation
import MprefCore
import MprefStore

/// `mprefd cursors`: where each segment's next `export --incremental` window starts.
struct Cursors: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show (or reset) each segment's incremental cursor.",
        discussion: """
            A segment's cursor is the window end (the time its initiate was sent) of its newest \
            export whose data was delivered: its download committed, or, with download off, its \
            status Complete. `mprefd export SEGMENT --incremental` starts there (minus --overlap). \
            A failed, expired or timed-out export leaves the cursor where it was, so the next run \
            covers the gap.

            Examples:
              mprefd cursors
              mprefd cursors --json
              mprefd cursors reset Newsletter --to 2026-12-01T00:00:00Z
              mprefd cursors reset Newsletter          # the next --incremental is a full export
            """,
        subcommands: [CursorsList.self, CursorsReset.self],
        defaultSubcommand: CursorsList.self)
}

/// `mprefd cursors [list]`.
struct CursorsList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List the cursors (the default).")

    @OptionGroup var global: GlobalOptions

    @Option(
        name: .customLong("client-id"), help: ArgumentHelp("Only this client ID's segments.", valueName: "id"),
        transform: ClientID.parseArgument)
    var clientID: ClientID?

    @Flag(help: "Print a JSON array of {client_id, segment, position, export_id, set_by, updated_at}.")
    var json = false

    func run() async throws {
        let configuration = try await global.loadConfiguration()
        let database = AdminStore(try global.openDatabase(configuration, mode: .readOnly))
        let cursors = try database.cursors(clientID: clientID)
        if json {
            try Output.json(cursors)
            return
        }
        guard !cursors.isEmpty else {
            Output.note("no cursors yet: a segment gets one when an export from `mprefd export` delivers its data")
            return
        }
        let rows = cursors.map { cursor in
            [
                cursor.clientID, TerminalText.escaped(cursor.segment),
                Timestamp.parse(cursor.position) == nil
                    ? "\(TerminalText.escaped(cursor.position.prefix(40))) (NOT A TIME: `mprefd cursors reset`)"
                    : cursor.position,
                cursor.setBy == .delivery ? "export \(cursor.exportID.map(String.init) ?? "?")" : "reset",
                cursor.updatedAt,
            ]
        }
        Output.line(TextTable.render(header: ["CLIENT ID", "SEGMENT", "POSITION", "SET BY", "UPDATED"], rows: rows))
    }
}

/// `mprefd cursors reset SEGMENT [--to TIME]`.
struct CursorsReset: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reset",
        abstract: "Move a segment's cursor to a time, or remove it (the next --incremental export is then a full one).",
        discussion: """
            After a reset, deliveries of exports sent before it no longer move the cursor. \
            TIME: 2026-12-01T06:00:00Z (UTC), 2026-12-01 (midnight UTC), or a duration before now (36h).
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("The segment.", valueName: "segment"))
    var segment: String

    @Option(
        name: .customLong("client-id"),
        help: ArgumentHelp("The client ID (optional with one account configured).", valueName: "id"),
        transform: ClientID.parseArgument)
    var clientID: ClientID?

    @Option(help: ArgumentHelp("The new position; without it the cursor is removed.", valueName: "time"))
    var to: String?

    func run() async throws {
        guard let name = SegmentName(segment) else {
            throw MprefdError.usage("bad segment '\(TerminalText.escaped(segment.prefix(80)))': \(SegmentName.rule)")
        }
        let now = Date()
        let position = try to.map { try Export.instant($0, option: "--to", now: now) }
        if let position, position > now {
            throw MprefdError.usage("bad --to '\(to ?? "")': \(Timestamp.format(position)) is in the future")
        }
        let configuration = try await global.loadConfiguration()
        let clientID = try configuration.resolveClientID(clientID?.value)
        let database = AdminStore(try global.openDatabase(configuration, mode: .readWrite, requireExisting: true))
        let existed = try database.resetCursor(clientID: clientID, segment: name, to: position, at: now)
        if let position {
            Output.note("cursor of \(name) (client ID \(clientID)) set to \(Timestamp.format(position))")
        } else {
            Output.note(
                existed
                    ? "cursor of \(name) (client ID \(clientID)) removed: the next --incremental export is a full one"
                    : "segment \(name) (client ID \(clientID)) had no cursor")
        }
    }
}
