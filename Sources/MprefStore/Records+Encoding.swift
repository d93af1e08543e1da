// `--json` output keeps every column, with `null` for NULL, so scripts see stable keys
// (synthesised Codable would leave absent values out).

extension TokenRecord {
    package func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(clientID, forKey: .clientID)
        try c.encode(accessToken, forKey: .accessToken)
        try c.encode(label, forKey: .label)
        try c.encode(state, forKey: .state)
        try c.encode(lastStatus, forKey: .lastStatus)
        try c.encode(rowCount, forKey: .rowCount)
        try c.encode(byteCount, forKey: .byteCount)
        try c.encode(addedAt, forKey: .addedAt)
        try c.encode(nextPollAt, forKey: .nextPollAt)
        try c.encode(deadlineAt, forKey: .deadlineAt)
        try c.encode(lastPolledAt, forKey: .lastPolledAt)
        try c.encode(finishedAt, forKey: .finishedAt)
        try c.encode(attempt, forKey: .attempt)
        try c.encode(consecutiveErrors, forKey: .consecutiveErrors)
        try c.encode(lastError, forKey: .lastError)
        try c.encode(globalHooks, forKey: .globalHooks)
        try c.encode(segment, forKey: .segment)
        try c.encode(stuckAt, forKey: .stuckAt)
        try c.encode(expires, forKey: .expires)
    }
}

extension PollRecord {
    package func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(tokenID, forKey: .tokenID)
        try c.encode(polledAt, forKey: .polledAt)
        try c.encode(httpStatus, forKey: .httpStatus)
        try c.encode(status, forKey: .status)
        try c.encode(rowCount, forKey: .rowCount)
        try c.encode(byteCount, forKey: .byteCount)
        try c.encode(latencyMs, forKey: .latencyMs)
        try c.encode(retryAfterS, forKey: .retryAfterS)
        try c.encode(nextDelayS, forKey: .nextDelayS)
        try c.encode(outcome, forKey: .outcome)
        try c.encode(error, forKey: .error)
    }
}

extension HookRunRecord {
    package func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(eventID, forKey: .eventID)
        try c.encode(tokenID, forKey: .tokenID)
        try c.encode(event, forKey: .event)
        try c.encode(command, forKey: .command)
        try c.encode(attempt, forKey: .attempt)
        try c.encode(state, forKey: .state)
        try c.encode(createdAt, forKey: .createdAt)
        try c.encode(startedAt, forKey: .startedAt)
        try c.encode(finishedAt, forKey: .finishedAt)
        try c.encode(exitCode, forKey: .exitCode)
        try c.encode(signal, forKey: .signal)
        try c.encode(stdoutTail, forKey: .stdoutTail)
        try c.encode(stderrTail, forKey: .stderrTail)
        try c.encode(nextAttemptAt, forKey: .nextAttemptAt)
        try c.encode(error, forKey: .error)
        try c.encode(clientID, forKey: .clientID)
        try c.encode(accessToken, forKey: .accessToken)
    }
}
