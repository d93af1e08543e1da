import MprefCore
import MyPreferences

/// The pure rules of a download: whether a page can be stored, whether it is the last, and whether
/// the finished file's record count can be trusted. No I/O, no clock.
///
/// Paging (MyPreferences retrieve, `mypreferences-api.md`): `offset` is the 1-based index of the
/// page's first record; the vendor's own example is off by one, so the next offset is always this
/// one plus the records actually stored, never computed from `Limit`.
package enum DownloadPolicy {
    /// Why `page`, asked for at `offset`, cannot be stored as it is (`nil` when it can): it starts
    /// elsewhere, its `Count` disagrees with its records (a short page), `TotalResults` changed since
    /// an earlier page, it claims more records after an empty page, or it would overrun `TotalResults`.
    ///
    /// `Offset` is required: without it a server that ignores the `offset` asked for would have the
    /// same records stored again and again. Without `TotalResults`, `rowCount` (the status's
    /// `RowCount`, when above 0) bounds the records.
    package static func problem(
        with page: ExportPage, askedOffset offset: Int64, storedRecords: Int64, previousTotal: Int64?,
        rowCount: Int64? = nil
    ) -> String? {
        guard let answered = page.offset else {
            return "the page has no Offset, so its records cannot be placed (asked for record \(offset))"
        }
        if answered != offset {
            return "the page starts at record \(answered), but record \(offset) was asked for"
        }
        if let count = page.count, count != Int64(page.records) {
            return "the page says Count \(count) but holds \(page.records) records"
                + (count > Int64(page.records) ? " (a short page)" : "")
        }
        if let previousTotal, let total = page.totalResults, total != previousTotal {
            return "TotalResults changed from \(previousTotal) to \(total) during the download"
        }
        if page.records == 0, page.hasMore == true {
            return "an empty page says HasMore"
        }
        let after = storedRecords.addingSaturating(Int64(page.records))
        if let total = page.totalResults ?? previousTotal {
            if after > total { return "the page would bring the records to \(after), beyond TotalResults \(total)" }
        } else if let rowCount, rowCount > 0, after > rowCount {
            return
                "the page would bring the records to \(after), beyond RowCount \(rowCount) (the pages give no TotalResults)"
        }
        return nil
    }

    /// Whether no page follows this one: `HasMore` false, or — without `HasMore` — the records
    /// reached `TotalResults` or the page was empty.
    package static func isLast(_ page: ExportPage, recordsAfter: Int64, total: Int64?) -> Bool {
        if let hasMore = page.hasMore { return !hasMore }
        if let total { return recordsAfter >= total }
        return page.records == 0
    }

    /// Whether the page after the one asked for at `askedOffset` is asked for as soon as that one's
    /// body has arrived and is spooled — before it is decoded, written and made durable, so that work
    /// overlaps the next GET. Decided before the body is read, from the stored checkpoint: only when it
    /// knows `TotalResults` (`committedTotal`) and a full page of `limit` records still leaves records
    /// after it (`askedOffset + limit ≤ committedTotal`). A page that turns out short, invalid or the
    /// last makes the next step ask for another offset, and the early request is dropped; so while
    /// the download's requests fail (`failures` in a row above 0) it asks for one page at a time.
    package static func prefetchesNext(askedOffset: Int64, limit: Int, committedTotal: Int64?, failures: Int) -> Bool {
        guard let committedTotal, limit > 0, failures == 0 else { return false }
        return askedOffset.addingSaturating(Int64(limit)) <= committedTotal
    }

    /// Why the file's `records` cannot be trusted, or `nil`: they must equal `TotalResults` (when
    /// the pages gave one) and `RowCount` (when the status gave one above 0). The message says both numbers.
    package static func countMismatch(records: Int64, totalResults: Int64?, rowCount: Int64?) -> String? {
        if let totalResults, records != totalResults {
            return "records written \(records) ≠ TotalResults \(totalResults)"
        }
        if let rowCount, rowCount > 0, records != rowCount {
            return "records written \(records) ≠ RowCount \(rowCount)"
        }
        return nil
    }

    /// Free bytes to ask for before the first page: `byteCount` plus `margin` of it plus 64 MiB.
    package static func spaceNeeded(byteCount: Int64?, margin: Double) -> Int64 {
        let base = max(byteCount ?? 0, 0)
        let extra = Int64(saturating: Double(base) * max(margin, 0))
        return base.addingSaturating(extra).addingSaturating(64 << 20)
    }
}
