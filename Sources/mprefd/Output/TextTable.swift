/// A plain-text table: columns padded to their widest cell, two spaces apart.
enum TextTable {
    /// Every cell is shown through ``TerminalText/escaped(_:keeping:)``: values from the API or the
    /// database (a `Status`, an error text) cannot move the cursor, recolour the terminal, break a
    /// row or reorder it with bidi controls.
    static func render(header: [String], rows rawRows: [[String]], rightAligned: Set<Int> = []) -> String {
        let rows = rawRows.map { $0.map { TerminalText.escaped($0) } }
        var widths = header.map(\.count)
        for row in rows {
            for (i, cell) in row.enumerated() where i < widths.count {
                widths[i] = max(widths[i], cell.count)
            }
        }
        func line(_ cells: [String]) -> String {
            var parts: [String] = []
            for (i, cell) in cells.enumerated() {
                let padding = String(repeating: " ", count: max(0, widths[i] - cell.count))
                let isLast = i == cells.count - 1
                parts.append(rightAligned.contains(i) ? padding + cell : (isLast ? cell : cell + padding))
            }
            return parts.joined(separator: "  ")
        }
        return ([line(header)] + rows.map(line)).joined(separator: "\n")
    }
}
