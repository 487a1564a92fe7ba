/// The page shell every report shares: the document head with the inline stylesheet, and the
/// end of the document. No scripts, fonts, images or links to anything outside the file; chart
/// values show on hover through SVG `<title>`s, the browser's own tooltips.
enum ReportPage {
    /// Everything up to and including `<body>`: the escaped `title` and the stylesheet, followed
    /// by `extraStyle` (rules of one report's own charts; empty adds nothing).
    static func head(title: String, extraStyle: String = "") -> String {
        var html = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        html += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        html += "<title>\(escapeHTML(title))</title>\n<style>\n\(stylesheet)\(extraStyle)</style>\n</head>\n<body>\n"
        return html
    }

    /// The end of the document.
    static let foot = "</body>\n</html>\n"

    /// A two-column table of (label, value) rows: labels as row headings, both escaped.
    /// The page's start: `head`, the title, the period the metrics cover (`bars` and its
    /// `label`, e.g. "bars out of sample") and the notes as a list. All text is escaped.
    static func intro(title: String, metrics: PerformanceMetrics?, bars: Int, barsLabel: String = "bars", notes: [String]) -> String {
        var html = head(title: title)
        html += "<h1>\(escapeHTML(title))</h1>\n"
        if let metrics, let start = metrics.startTime, let end = metrics.endTime {
            var period = "\(start.iso8601) – \(end.iso8601) · \(bars) \(barsLabel)"
            if let span = metrics.span { period += " · " + Numerics.fixed(span.days, places: 2) + " days" }
            html += "<p class=\"period\">\(escapeHTML(period))</p>\n"
        }
        if !notes.isEmpty {
            html += "<ul class=\"notes\">\n"
            for note in notes { html += "<li>\(escapeHTML(note))</li>\n" }
            html += "</ul>\n"
        }
        return html
    }

    static func pairsTable(_ rows: [(String, String)], className: String = "metrics") -> String {
        var html = "<table class=\"\(className)\">\n"
        for (label, value) in rows {
            html += "<tr><th>\(escapeHTML(label))</th><td>\(escapeHTML(value))</td></tr>\n"
        }
        return html + "</table>\n"
    }

    /// One cell of ``listTable(_:headings:limit:empty:shortened:cells:)``: escaped text, and a
    /// class attribute when `className` is not `nil`.
    struct Cell {
        var text: String
        var className: String?

        init(_ text: String, className: String? = nil) {
            self.text = text
            self.className = className
        }
    }

    /// A table with a heading row and one row for each of the first `limit` items, or the
    /// `empty` sentence when there are none; `shortened` (given the count) is said before the
    /// table when items were left out.
    static func listTable<Item>(
        _ items: [Item], headings: [String], limit: Int, empty: String, shortened: (Int) -> String, cells: (Int, Item) -> [Cell]
    ) -> String {
        guard !items.isEmpty else { return "<p>\(escapeHTML(empty))</p>\n" }
        var html = ""
        if items.count > limit { html += "<p>\(escapeHTML(shortened(items.count)))</p>\n" }
        html += "<table class=\"trades\">\n<tr>"
        for heading in headings { html += "<th>\(escapeHTML(heading))</th>" }
        html += "</tr>\n"
        for (index, item) in items.prefix(limit).enumerated() {
            html += "<tr>"
            for cell in cells(index, item) {
                if let className = cell.className {
                    html += "<td class=\"\(className)\">\(escapeHTML(cell.text))</td>"
                } else {
                    html += "<td>\(escapeHTML(cell.text))</td>"
                }
            }
            html += "</tr>\n"
        }
        return html + "</table>\n"
    }

    static let stylesheet = """
        body { font-family: system-ui, sans-serif; color: #222; max-width: 1320px; margin: 24px auto; padding: 0 16px; }
        h1 { font-size: 22px; margin-bottom: 4px; }
        h2 { font-size: 17px; margin-top: 28px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
        p.period { color: #555; margin-top: 0; }
        ul.notes { color: #444; font-size: 14px; }
        table { border-collapse: collapse; font-size: 13px; }
        th, td { padding: 3px 8px; border-bottom: 1px solid #e3e3e3; text-align: right; white-space: nowrap; }
        table.metrics th { text-align: left; font-weight: 600; }
        table.metrics td { text-align: left; font-variant-numeric: tabular-nums; }
        table.trades td { font-variant-numeric: tabular-nums; }
        table.trades tr:nth-child(even) { background: #f7f7f7; }
        td.pos { color: #1a7f37; }
        td.neg { color: #c62828; }
        svg { display: block; max-width: 1300px; margin: 8px 0; }
        svg .grid line { stroke: #ececec; stroke-width: 1; }
        svg .frame { fill: none; stroke: #aaa; }
        svg .labels text, svg .legend { fill: #444; }
        svg .panel-title { font-weight: 600; }
        svg .empty { fill: #888; font-size: 16px; }
        svg .baseline { stroke: #999; stroke-dasharray: 4 3; }
        svg .equity { fill: none; stroke: #1f77b4; stroke-width: 1.3; }
        svg .drawdown { fill: #d62728; fill-opacity: 0.25; stroke: none; }
        svg .drawdown-line { fill: none; stroke: #d62728; stroke-width: 1; }
        svg .price { fill: none; stroke: #555; stroke-width: 1; }
        svg .funding { fill: none; stroke: #9467bd; stroke-width: 1.5; }
        svg .dd-peak { fill: #1f77b4; }
        svg .dd-trough { fill: #d62728; }
        svg .hold { fill: none; stroke: #ff7f0e; stroke-width: 1.1; stroke-dasharray: 5 3; }
        svg .overlay0 { fill: none; stroke: #1f77b4; stroke-width: 1.2; }
        svg .overlay1 { fill: none; stroke: #ff7f0e; stroke-width: 1.2; }
        svg .overlay2 { fill: none; stroke: #9467bd; stroke-width: 1.2; }
        svg .overlay3 { fill: none; stroke: #8c564b; stroke-width: 1.2; }
        svg .mk-long { fill: #2ca02c; stroke: #fff; stroke-width: 0.8; }
        svg .mk-short { fill: #d62728; stroke: #fff; stroke-width: 0.8; }
        svg .mk-exit { fill: none; stroke: #222; stroke-width: 1.8; }
        svg .score { fill: none; stroke: #17becf; stroke-width: 1; }
        svg .threshold { stroke: #d62728; stroke-dasharray: 4 3; }
        svg .quiet rect, svg rect.quiet { fill: #7f7f7f; fill-opacity: 0.12; }
        svg .halt rect, svg rect.halt { fill: #d62728; fill-opacity: 0.18; }
        svg .exposure { fill: none; stroke: #8c564b; stroke-width: 1.1; }
        svg .exposure-area, svg rect.exposure-area { fill: #8c564b; fill-opacity: 0.2; stroke: none; }
        svg rect.drawdown { stroke: none; }
        svg .fold { stroke: #444; stroke-dasharray: 4 4; }
        svg .marker-label { fill: #444; font-size: 11px; }
        svg .hover rect { fill: #000; fill-opacity: 0; }
        svg .hover rect:hover { fill-opacity: 0.07; }
        table.monthly td { min-width: 56px; }

        """
}
