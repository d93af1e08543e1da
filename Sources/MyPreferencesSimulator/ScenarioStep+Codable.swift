import MprefCore

// The JSON form of a step (documented on `Scenario`). Decoding is strict: exactly one answer key,
// no unknown keys, so that a typo in a scenario file fails loudly instead of becoming a default.

struct JSONKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(_ string: String) { self.stringValue = string }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

extension KeyedDecodingContainer where Key == JSONKey {
    /// Throws when the object has a key outside `allowed`, naming it.
    func rejectUnknownKeys(allowed: Set<String>, in what: String) throws {
        for key in allKeys where !allowed.contains(key.stringValue) {
            throw DecodingError.dataCorruptedError(
                forKey: key, in: self,
                debugDescription:
                    "unknown key '\(key.stringValue)' in \(what); allowed: \(allowed.sorted().joined(separator: ", "))"
            )
        }
    }
}

extension ScenarioStep: Codable {
    static let answerKeys: Set<String> = ["status", "http", "unavailable", "drop", "raw"]
    static let allowedKeys: Set<String> = answerKeys.union(["repeat", "delay_ms", "row_count", "byte_count", "expires"])

    package init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: JSONKey.self)
        try c.rejectUnknownKeys(allowed: Self.allowedKeys, in: "a scenario step")
        let present = c.allKeys.map(\.stringValue).filter { Self.answerKeys.contains($0) }
        guard present.count == 1, let kind = present.first else {
            throw DecodingError.dataCorrupted(
                .init(
                    codingPath: c.codingPath,
                    debugDescription:
                        "a scenario step needs exactly one of status, http, unavailable, drop, raw (found \(present.sorted()))"
                ))
        }
        if kind != "status" {
            for key in ["row_count", "byte_count", "expires"] where c.contains(JSONKey(key)) {
                throw DecodingError.dataCorruptedError(
                    forKey: JSONKey(key), in: c, debugDescription: "'\(key)' only belongs to a status step")
            }
        }

        let answer: Answer
        switch kind {
        case "status":
            answer = .status(
                try c.decode(String.self, forKey: JSONKey("status")),
                rowCount: try c.decodeIfPresent(Int64.self, forKey: JSONKey("row_count")) ?? 0,
                byteCount: try c.decodeIfPresent(Int64.self, forKey: JSONKey("byte_count")) ?? 0,
                expires: try c.decodeIfPresent(String.self, forKey: JSONKey("expires"))
            )
        case "http":
            if let code = try? c.decode(Int.self, forKey: JSONKey("http")) {
                answer = .http(code: try Self.validated(code: code, in: c, key: "http"), body: nil)
            } else {
                let o = try c.nestedContainer(keyedBy: JSONKey.self, forKey: JSONKey("http"))
                try o.rejectUnknownKeys(allowed: ["code", "body"], in: "an http step")
                answer = .http(
                    code: try Self.validated(code: try o.decode(Int.self, forKey: JSONKey("code")), in: o, key: "code"),
                    body: try o.decodeIfPresent(String.self, forKey: JSONKey("body"))
                )
            }
        case "unavailable":
            let o = try c.nestedContainer(keyedBy: JSONKey.self, forKey: JSONKey("unavailable"))
            try o.rejectUnknownKeys(allowed: ["retry_after_s", "form", "body"], in: "an unavailable step")
            answer = .unavailable(
                retryAfter: try RetryAfter.decodeIfPresent(from: o),
                body: try o.decodeIfPresent(String.self, forKey: JSONKey("body")))
        case "drop":
            guard try c.decode(Bool.self, forKey: JSONKey("drop")) else {
                throw DecodingError.dataCorruptedError(
                    forKey: JSONKey("drop"), in: c, debugDescription: "'drop' must be true")
            }
            answer = .drop
        default:  // "raw"
            let o = try c.nestedContainer(keyedBy: JSONKey.self, forKey: JSONKey("raw"))
            try o.rejectUnknownKeys(allowed: ["code", "content_type", "body"], in: "a raw step")
            answer = .raw(
                code: try Self.validated(
                    code: try o.decodeIfPresent(Int.self, forKey: JSONKey("code")) ?? 200, in: o, key: "code"),
                contentType: try o.decodeIfPresent(String.self, forKey: JSONKey("content_type"))
                    ?? "text/plain; charset=utf-8",
                body: try o.decodeIfPresent(String.self, forKey: JSONKey("body")) ?? ""
            )
        }

        let repeatCount = try c.decodeIfPresent(Int.self, forKey: JSONKey("repeat")) ?? 1
        guard repeatCount >= 1 else {
            throw DecodingError.dataCorruptedError(
                forKey: JSONKey("repeat"), in: c, debugDescription: "'repeat' must be at least 1, got \(repeatCount)")
        }
        var delay: Duration?
        if let delayMilliseconds = try c.decodeIfPresent(Int.self, forKey: JSONKey("delay_ms")) {
            guard delayMilliseconds >= 0 else {
                throw DecodingError.dataCorruptedError(
                    forKey: JSONKey("delay_ms"), in: c,
                    debugDescription: "'delay_ms' must be ≥ 0, got \(delayMilliseconds)")
            }
            delay = .milliseconds(delayMilliseconds)
        }
        self.init(answer, repeat: repeatCount, delay: delay)
    }

    private static func validated(code: Int, in c: KeyedDecodingContainer<JSONKey>, key: String) throws -> Int {
        guard (100...599).contains(code) else {
            throw DecodingError.dataCorruptedError(
                forKey: JSONKey(key), in: c, debugDescription: "HTTP status code must be 100–599, got \(code)")
        }
        return code
    }

    package func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: JSONKey.self)
        switch answer {
        case .status(let status, let rowCount, let byteCount, let expires):
            try c.encode(status, forKey: JSONKey("status"))
            try c.encode(rowCount, forKey: JSONKey("row_count"))
            try c.encode(byteCount, forKey: JSONKey("byte_count"))
            try c.encodeIfPresent(expires, forKey: JSONKey("expires"))
        case .http(let code, let body):
            var o = c.nestedContainer(keyedBy: JSONKey.self, forKey: JSONKey("http"))
            try o.encode(code, forKey: JSONKey("code"))
            try o.encodeIfPresent(body, forKey: JSONKey("body"))
        case .unavailable(let retryAfter, let body):
            var o = c.nestedContainer(keyedBy: JSONKey.self, forKey: JSONKey("unavailable"))
            try retryAfter?.encode(into: &o)
            try o.encodeIfPresent(body, forKey: JSONKey("body"))
        case .drop:
            try c.encode(true, forKey: JSONKey("drop"))
        case .raw(let code, let contentType, let body):
            var o = c.nestedContainer(keyedBy: JSONKey.self, forKey: JSONKey("raw"))
            try o.encode(code, forKey: JSONKey("code"))
            try o.encode(contentType, forKey: JSONKey("content_type"))
            try o.encode(body, forKey: JSONKey("body"))
        }
        if repeatCount != 1 { try c.encode(repeatCount, forKey: JSONKey("repeat")) }
        if let delay { try c.encode(delay.wholeMilliseconds, forKey: JSONKey("delay_ms")) }
    }
}

extension RetryAfter {
    /// Reads `retry_after_s` (integer ≥ 0) and `form` (`seconds` | `http-date`) from an object; nil when
    /// `retry_after_s` is absent.
    static func decodeIfPresent(from o: KeyedDecodingContainer<JSONKey>) throws -> RetryAfter? {
        let form = try o.decodeIfPresent(Form.self, forKey: JSONKey("form")) ?? .seconds
        guard let seconds = try o.decodeIfPresent(Int.self, forKey: JSONKey("retry_after_s")) else {
            if o.contains(JSONKey("form")) {
                throw DecodingError.dataCorruptedError(
                    forKey: JSONKey("form"), in: o, debugDescription: "'form' needs 'retry_after_s'")
            }
            return nil
        }
        guard seconds >= 0 else {
            throw DecodingError.dataCorruptedError(
                forKey: JSONKey("retry_after_s"), in: o, debugDescription: "'retry_after_s' must be ≥ 0, got \(seconds)"
            )
        }
        return RetryAfter(seconds: seconds, form: form)
    }

    func encode(into o: inout KeyedEncodingContainer<JSONKey>) throws {
        try o.encode(seconds, forKey: JSONKey("retry_after_s"))
        try o.encode(form, forKey: JSONKey("form"))
    }
}

extension Duration {
    /// Whole milliseconds, rounded down.
    var wholeMilliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds.multipliedSaturating(by: 1000).addingSaturating(attoseconds / 1_000_000_000_000_000)
    }

    /// Seconds as a floating-point number.
    var secondsDouble: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
