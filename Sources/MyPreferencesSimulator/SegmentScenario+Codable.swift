import MprefCore

// The JSON form of a segment entry and its initiate faults (documented on `SegmentScenario`). Strict like
// the rest of the book: unknown keys and out-of-range values are errors naming the key.

extension SegmentScenario: Codable {
    static let allowedKeys: Set<String> = [
        "name", "client_id", "records", "processing_s", "duration", "changes_per_s", "history_s", "seed",
        "initiate_faults", "export",
        "callback_delay_s", "callback_failure_rate",
    ]

    package init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: JSONKey.self)
        try c.rejectUnknownKeys(allowed: Self.allowedKeys, in: "a segments entry")
        let name = try c.decode(String.self, forKey: JSONKey("name"))
        guard !name.isEmpty else {
            throw DecodingError.dataCorruptedError(
                forKey: JSONKey("name"), in: c, debugDescription: "'name' must not be empty")
        }
        let records = try c.decode(Int64.self, forKey: JSONKey("records"))
        guard records >= 0, records <= Self.mostRecords else {
            throw DecodingError.dataCorruptedError(
                forKey: JSONKey("records"), in: c,
                debugDescription: "'records' must be from 0 to \(Self.mostRecords), got \(records)")
        }
        if let seed = try? c.decode(Int64.self, forKey: JSONKey("seed")), seed < 0 {
            throw DecodingError.dataCorruptedError(
                forKey: JSONKey("seed"), in: c, debugDescription: "'seed' must be ≥ 0, got \(seed)")
        }

        let processing: Processing
        switch (c.contains(JSONKey("processing_s")), c.contains(JSONKey("duration"))) {
        case (true, true):
            throw DecodingError.dataCorruptedError(
                forKey: JSONKey("duration"), in: c,
                debugDescription: "give either 'processing_s' or 'duration', not both")
        case (true, false):
            processing = .fixed(try Self.seconds("processing_s", in: c))
        case (false, true):
            let o = try c.nestedContainer(keyedBy: JSONKey.self, forKey: JSONKey("duration"))
            try o.rejectUnknownKeys(allowed: ["median_s", "sigma"], in: "a duration object")
            let median = try o.decode(Double.self, forKey: JSONKey("median_s"))
            guard median > 0, median <= Self.longestSeconds else {
                throw DecodingError.dataCorruptedError(
                    forKey: JSONKey("median_s"), in: o,
                    debugDescription: "'median_s' must be > 0 and ≤ \(Int(Self.longestSeconds)), got \(median)")
            }
            let sigma = try o.decode(Double.self, forKey: JSONKey("sigma"))
            guard sigma >= 0, sigma <= 10 else {
                throw DecodingError.dataCorruptedError(
                    forKey: JSONKey("sigma"), in: o, debugDescription: "'sigma' must be from 0 to 10, got \(sigma)")
            }
            processing = .logNormal(median: .milliseconds(Int64(saturating: (median * 1000).rounded())), sigma: sigma)
        case (false, false):
            processing = .fixed(.zero)
        }

        let changesPerSecond = try c.decodeIfPresent(Double.self, forKey: JSONKey("changes_per_s")) ?? 0
        guard changesPerSecond >= 0, changesPerSecond <= 1_000_000 else {
            throw DecodingError.dataCorruptedError(
                forKey: JSONKey("changes_per_s"), in: c,
                debugDescription: "'changes_per_s' must be from 0 to 1000000, got \(changesPerSecond)")
        }
        var export = try c.decodeIfPresent(ExportOptions.self, forKey: JSONKey("export"))
        if export != nil {
            let o = try c.nestedContainer(keyedBy: JSONKey.self, forKey: JSONKey("export"))
            if o.contains(JSONKey("seed")) {
                throw DecodingError.dataCorruptedError(
                    forKey: JSONKey("seed"), in: o,
                    debugDescription: "a segment's records take the entry's own 'seed', not one in 'export'")
            }
            export?.seed = 0
        }
        let callbackDelay = try c.decodeIfPresent(Double.self, forKey: JSONKey("callback_delay_s")) ?? 0.5
        guard callbackDelay >= 0, callbackDelay <= 3600 else {
            throw DecodingError.dataCorruptedError(
                forKey: JSONKey("callback_delay_s"), in: c,
                debugDescription: "'callback_delay_s' must be from 0 to 3600, got \(callbackDelay)")
        }
        let callbackFailureRate = try c.decodeIfPresent(Double.self, forKey: JSONKey("callback_failure_rate")) ?? 0
        guard callbackFailureRate >= 0, callbackFailureRate <= 1 else {
            throw DecodingError.dataCorruptedError(
                forKey: JSONKey("callback_failure_rate"), in: c,
                debugDescription: "'callback_failure_rate' must be from 0 to 1, got \(callbackFailureRate)")
        }
        self.init(
            name: name,
            clientID: try c.decodeIfPresent(String.self, forKey: JSONKey("client_id")),
            records: records,
            processing: processing,
            changesPerSecond: changesPerSecond,
            history: c.contains(JSONKey("history_s")) ? try Self.seconds("history_s", in: c) : .seconds(86_400),
            seed: try c.decodeIfPresent(UInt64.self, forKey: JSONKey("seed")) ?? 0,
            initiateFaults: try c.decodeIfPresent([InitiateFault].self, forKey: JSONKey("initiate_faults")) ?? [],
            export: export,
            callbackDelay: .milliseconds(Int64(saturating: (callbackDelay * 1000).rounded())),
            callbackFailureRate: callbackFailureRate
        )
    }

    /// The largest base population a segment may have (10^12 records).
    static let mostRecords: Int64 = 1_000_000_000_000

    /// Ten years: the longest processing time or history a segment may have.
    static let longestSeconds: Double = 10 * 366 * 86_400

    /// A number of seconds (fractions allowed) from 0 to ``longestSeconds``, as whole milliseconds.
    private static func seconds(_ key: String, in c: KeyedDecodingContainer<JSONKey>) throws -> Duration {
        let value = try c.decode(Double.self, forKey: JSONKey(key))
        guard value >= 0, value <= longestSeconds else {
            throw DecodingError.dataCorruptedError(
                forKey: JSONKey(key), in: c,
                debugDescription: "'\(key)' must be from 0 to \(Int(longestSeconds)), got \(value)")
        }
        return .milliseconds(Int64(saturating: (value * 1000).rounded()))
    }

    package func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: JSONKey.self)
        try c.encode(name, forKey: JSONKey("name"))
        try c.encodeIfPresent(clientID, forKey: JSONKey("client_id"))
        try c.encode(records, forKey: JSONKey("records"))
        switch processing {
        case .fixed(let duration):
            try c.encode(duration.secondsDouble, forKey: JSONKey("processing_s"))
        case .logNormal(let median, let sigma):
            var o = c.nestedContainer(keyedBy: JSONKey.self, forKey: JSONKey("duration"))
            try o.encode(median.secondsDouble, forKey: JSONKey("median_s"))
            try o.encode(sigma, forKey: JSONKey("sigma"))
        }
        try c.encode(changesPerSecond, forKey: JSONKey("changes_per_s"))
        try c.encode(history.secondsDouble, forKey: JSONKey("history_s"))
        try c.encode(seed, forKey: JSONKey("seed"))
        if !initiateFaults.isEmpty { try c.encode(initiateFaults, forKey: JSONKey("initiate_faults")) }
        if var export {
            export.seed = 0
            try c.encode(export, forKey: JSONKey("export"))
        }
        try c.encode(callbackDelay.secondsDouble, forKey: JSONKey("callback_delay_s"))
        try c.encode(callbackFailureRate, forKey: JSONKey("callback_failure_rate"))
    }
}

extension InitiateFault: Codable {
    static let kindKeys: Set<String> = ["drop", "delay_s", "unavailable", "http"]

    package init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: JSONKey.self)
        try c.rejectUnknownKeys(allowed: Self.kindKeys.union(["creates"]), in: "an initiate fault")
        let present = c.allKeys.map(\.stringValue).filter { Self.kindKeys.contains($0) }
        guard present.count == 1, let kind = present.first else {
            throw DecodingError.dataCorrupted(
                .init(
                    codingPath: c.codingPath,
                    debugDescription:
                        "an initiate fault needs exactly one of drop, delay_s, unavailable, http (found \(present.sorted()))"
                ))
        }
        if kind != "http", c.contains(JSONKey("creates")) {
            throw DecodingError.dataCorruptedError(
                forKey: JSONKey("creates"), in: c, debugDescription: "'creates' only belongs to an http fault")
        }
        switch kind {
        case "drop":
            guard try c.decode(Bool.self, forKey: JSONKey("drop")) else {
                throw DecodingError.dataCorruptedError(
                    forKey: JSONKey("drop"), in: c, debugDescription: "'drop' must be true")
            }
            self = .drop
        case "delay_s":
            let seconds = try c.decode(Double.self, forKey: JSONKey("delay_s"))
            guard seconds >= 0, seconds <= 3600 else {
                throw DecodingError.dataCorruptedError(
                    forKey: JSONKey("delay_s"), in: c,
                    debugDescription: "'delay_s' must be from 0 to 3600, got \(seconds)")
            }
            self = .delay(.milliseconds(Int64(saturating: (seconds * 1000).rounded())))
        case "unavailable":
            let o = try c.nestedContainer(keyedBy: JSONKey.self, forKey: JSONKey("unavailable"))
            try o.rejectUnknownKeys(allowed: ["retry_after_s", "form"], in: "an unavailable initiate fault")
            self = .unavailable(retryAfter: try RetryAfter.decodeIfPresent(from: o))
        default:  // "http"
            let code = try c.decode(Int.self, forKey: JSONKey("http"))
            guard (100...599).contains(code) else {
                throw DecodingError.dataCorruptedError(
                    forKey: JSONKey("http"), in: c, debugDescription: "HTTP status code must be 100–599, got \(code)")
            }
            self = .http(code: code, creates: try c.decodeIfPresent(Bool.self, forKey: JSONKey("creates")) ?? false)
        }
    }

    package func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: JSONKey.self)
        switch self {
        case .drop:
            try c.encode(true, forKey: JSONKey("drop"))
        case .delay(let duration):
            try c.encode(duration.secondsDouble, forKey: JSONKey("delay_s"))
        case .unavailable(let retryAfter):
            var o = c.nestedContainer(keyedBy: JSONKey.self, forKey: JSONKey("unavailable"))
            try retryAfter?.encode(into: &o)
        case .http(let code, let creates):
            try c.encode(code, forKey: JSONKey("http"))
            try c.encode(creates, forKey: JSONKey("creates"))
        }
    }
}
