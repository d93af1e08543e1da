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

    /// Whether the page after `page` is asked for at once, while `page` is made durable and its
    /// checkpoint stored (one request in flight per download while the other half of the work is
    /// done). Only when a `kill -9` in between loses at most that one request: the stored checkpoint
    /// already knows `TotalResults` (`committedTotal`), so a restart keeps `page`'s records from the
    /// file (``adoptable(storedRecords:totalResults:)``) instead of fetching it again; and never after the last page.
    package static func prefetchesNext(after page: ExportPage, recordsAfter: Int64, committedTotal: Int64?) -> Bool {
        guard let committedTotal else { return false }
        return !isLast(page, recordsAfter: recordsAfter, total: page.totalResults ?? committedTotal)
            && recordsAfter < committedTotal
    }

    /// How many whole records written past the checkpoint a restart may keep: fewer than remain
    /// (`totalResults − storedRecords − 1`, never below 0), so the last page is always fetched and its
    /// `HasMore` seen; 0 without a stored `TotalResults`.
    package static func adoptable(storedRecords: Int64, totalResults: Int64?) -> Int64 {
        guard let totalResults else { return 0 }
        return max(0, totalResults.subtractingSaturating(storedRecords).subtractingSaturating(1))
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
