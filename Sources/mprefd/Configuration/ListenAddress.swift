/// A TCP listen address (`metrics.listen`).
struct ListenAddress: Sendable, Hashable, CustomStringConvertible {
    /// An IP address or host name; `127.0.0.1` when the key gave only `:PORT`.
    var host: String
    /// 1…65535.
    var port: Int

    var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// Parses `HOST:PORT`, `[IPv6]:PORT` or `:PORT` (loopback); `nil` when malformed.
    init?(_ text: String) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
            (1...65_535).contains(port)
        else { return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        if host.isEmpty { host = "127.0.0.1" }
        guard !host.contains(where: { $0 == " " || $0 == "/" }) else { return nil }
        self.host = host
        self.port = port
    }
}
