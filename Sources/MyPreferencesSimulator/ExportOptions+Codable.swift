// The JSON form of a scenario's `export` object (documented on `Scenario`). Strict like the steps:
// unknown keys, and keys that do not belong to the fault kind, are errors.

extension ExportOptions: Codable {
    static let allowedKeys: Set<String> = ["seed", "lowercase_keys", "records_key", "pages", "expire_after_pages"]

    package init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: JSONKey.self)
        try c.rejectUnknownKeys(allowed: Self.allowedKeys, in: "an export object")
        let expireAfterPages = try c.decodeIfPresent(Int.self, forKey: JSONKey("expire_after_pages"))
        if let expireAfterPages, expireAfterPages < 1 {
            throw DecodingError.dataCorruptedError(
                forKey: JSONKey("expire_after_pages"), in: c,
                debugDescription: "'expire_after_pages' must be at least 1, got \(expireAfterPages)")
        }
        self.init(
            seed: try c.decodeIfPresent(UInt64.self, forKey: JSONKey("seed")) ?? 0,
            lowercaseKeys: try c.decodeIfPresent(Bool.self, forKey: JSONKey("lowercase_keys")) ?? false,
            recordsKey: try c.decodeIfPresent(RecordsKey.self, forKey: JSONKey("records_key"))
                ?? .userProfilePreferences,
            pages: try c.decodeIfPresent([PageFault].self, forKey: JSONKey("pages")) ?? [],
            expireAfterPages: expireAfterPages
        )
    }

    package func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: JSONKey.self)
        if seed != 0 { try c.encode(seed, forKey: JSONKey("seed")) }
        if lowercaseKeys { try c.encode(true, forKey: JSONKey("lowercase_keys")) }
        if recordsKey != .userProfilePreferences { try c.encode(recordsKey, forKey: JSONKey("records_key")) }
        if !pages.isEmpty { try c.encode(pages, forKey: JSONKey("pages")) }
        try c.encodeIfPresent(expireAfterPages, forKey: JSONKey("expire_after_pages"))
    }
}

extension PageFault: Codable {
    /// The keys each fault kind accepts besides `offset`, `fault` and `times`.
    static let kindKeys: [String: Set<String>] = [
        "unavailable": ["retry_after_s", "form"],
        "server_error": [],
        "http": ["code", "body"],
        "drop": [],
        "reset": ["after_bytes"],
        "slow": ["delay_ms", "chunks"],
        "short": [],
        "wrong_total": [],
    ]

    package init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: JSONKey.self)
        let name = try c.decode(String.self, forKey: JSONKey("fault"))
        guard let extra = Self.kindKeys[name] else {
            throw DecodingError.dataCorruptedError(
                forKey: JSONKey("fault"), in: c,
                debugDescription:
                    "unknown fault '\(name)'; known: \(Self.kindKeys.keys.sorted().joined(separator: ", "))")
        }
        try c.rejectUnknownKeys(allowed: extra.union(["offset", "fault", "times"]), in: "a '\(name)' page fault")
        let offset = try c.decode(Int64.self, forKey: JSONKey("offset"))
        guard offset >= 1 else {
            throw DecodingError.dataCorruptedError(
                forKey: JSONKey("offset"), in: c, debugDescription: "'offset' is 1-based, got \(offset)")
        }
        let times = try c.decodeIfPresent(Int.self, forKey: JSONKey("times")) ?? 1
        guard times >= 1 else {
            throw DecodingError.dataCorruptedError(
                forKey: JSONKey("times"), in: c, debugDescription: "'times' must be at least 1, got \(times)")
        }
        let kind: Kind
        switch name {
        case "unavailable":
            kind = .unavailable(retryAfter: try RetryAfter.decodeIfPresent(from: c))
        case "server_error":
            kind = .serverError
        case "http":
            let code = try c.decode(Int.self, forKey: JSONKey("code"))
            guard (100...599).contains(code) else {
                throw DecodingError.dataCorruptedError(
                    forKey: JSONKey("code"), in: c, debugDescription: "HTTP status code must be 100–599, got \(code)")
            }
            kind = .http(code: code, body: try c.decodeIfPresent(String.self, forKey: JSONKey("body")))
        case "drop":
            kind = .drop
        case "reset":
            let afterBytes = try c.decodeIfPresent(Int.self, forKey: JSONKey("after_bytes"))
            if let afterBytes, afterBytes < 0 {
                throw DecodingError.dataCorruptedError(
                    forKey: JSONKey("after_bytes"), in: c,
                    debugDescription: "'after_bytes' must be ≥ 0, got \(afterBytes)")
            }
            kind = .reset(afterBytes: afterBytes)
        case "slow":
            let milliseconds = try c.decode(Int.self, forKey: JSONKey("delay_ms"))
            let chunks = try c.decodeIfPresent(Int.self, forKey: JSONKey("chunks")) ?? 20
            guard milliseconds >= 0, chunks >= 1 else {
                throw DecodingError.dataCorruptedError(
                    forKey: JSONKey("delay_ms"), in: c,
                    debugDescription: "need 'delay_ms' ≥ 0 and 'chunks' ≥ 1, got \(milliseconds) and \(chunks)")
            }
            kind = .slow(delay: .milliseconds(milliseconds), chunks: chunks)
        case "short":
            kind = .short
        default:  // "wrong_total"
            kind = .wrongTotal
        }
        self.init(offset: offset, kind, times: times)
    }

    package func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: JSONKey.self)
        try c.encode(offset, forKey: JSONKey("offset"))
        switch kind {
        case .unavailable(let retryAfter):
            try c.encode("unavailable", forKey: JSONKey("fault"))
            try retryAfter?.encode(into: &c)
        case .serverError:
            try c.encode("server_error", forKey: JSONKey("fault"))
        case .http(let code, let body):
            try c.encode("http", forKey: JSONKey("fault"))
            try c.encode(code, forKey: JSONKey("code"))
            try c.encodeIfPresent(body, forKey: JSONKey("body"))
        case .drop:
            try c.encode("drop", forKey: JSONKey("fault"))
        case .reset(let afterBytes):
            try c.encode("reset", forKey: JSONKey("fault"))
            try c.encodeIfPresent(afterBytes, forKey: JSONKey("after_bytes"))
        case .slow(let delay, let chunks):
            try c.encode("slow", forKey: JSONKey("fault"))
            try c.encode(delay.wholeMilliseconds, forKey: JSONKey("delay_ms"))
            try c.encode(chunks, forKey: JSONKey("chunks"))
        case .short:
            try c.encode("short", forKey: JSONKey("fault"))
        case .wrongTotal:
            try c.encode("wrong_total", forKey: JSONKey("fault"))
        }
        if times != 1 { try c.encode(times, forKey: JSONKey("times")) }
    }
}
