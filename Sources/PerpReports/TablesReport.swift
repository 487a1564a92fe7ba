/// A report of tables only (`nmrperp bot review --report`): the shared page shell, a title,
/// notes, then sections each with a heading and a table. Self-contained like every report: no
/// script, no link outside the file; all text escaped.
public enum TablesReport {
    public struct Section: Sendable {
        public var heading: String
        public var columns: [String]
        public var rows: [[String]]
        /// Said under the heading (what the table counts), or when it has no rows.
        public var caption: String

        public init(heading: String, columns: [String], rows: [[String]], caption: String = "") {
            self.heading = heading
            self.columns = columns
            self.rows = rows
            self.caption = caption
        }
    }

    public static func html(title: String, period: String, notes: [String], sections: [Section]) -> String {
        var html = ReportPage.head(title: title)
        html += "<h1>\(escapeHTML(title))</h1>\n<p class=\"period\">\(escapeHTML(period))</p>\n"
        if !notes.isEmpty {
            html += "<ul class=\"notes\">\n" + notes.map { "<li>\(escapeHTML($0))</li>\n" }.joined() + "</ul>\n"
        }
        for section in sections {
            html += "<h2>\(escapeHTML(section.heading))</h2>\n"
            if !section.caption.isEmpty { html += "<p>\(escapeHTML(section.caption))</p>\n" }
            guard !section.rows.isEmpty else { continue }
            html += "<table class=\"trades\">\n<tr>" + section.columns.map { "<th>\(escapeHTML($0))</th>" }.joined() + "</tr>\n"
            for row in section.rows { html += "<tr>" + row.map { "<td>\(escapeHTML($0))</td>" }.joined() + "</tr>\n" }
            html += "</table>\n"
        }
        return html + ReportPage.foot
    }
}
