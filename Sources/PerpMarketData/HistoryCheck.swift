import PerpModel

/// Every problem of a history file, not just the first (issue 15, "Data": `data check`).
///
/// The file is read by the same parser that loads it for real, so the rules are the loader's
/// and cannot drift: each time a row breaks one, the problem is recorded, the row is blanked
/// (a blank line is skipped and keeps every later row's line number) and the text is read
/// again, up to `limit` problems. A problem with the file as a whole (no header it knows, not
/// text, invalid JSON) ends the check; JSON histories report their first problem only.
public enum HistoryCheck {
    public enum Kind: String, Sendable { case candles, funding }

    public struct Report: Sendable {
        public var kind: Kind
        /// The problems, in the order found (at most `limit`).
        public var problems: [MarketDataError]
        /// More problems were left than `limit` allowed to list.
        public var truncated: Bool
        /// What loads once the problem rows are left out (`nil` when nothing does).
        public var candles: CandleSeries?
        public var funding: [FundingRate]?
    }

    /// Funding when the header (or the JSON's shape) is a funding history's, else candles.
    public static func kind(of bytes: [UInt8]) -> Kind {
        guard let first = bytes.first(where: { $0 != 0x20 && $0 != 0x0A && $0 != 0x0D && $0 != 0x09 }) else { return .candles }
        if first == UInt8(ascii: "[") || first == UInt8(ascii: "{") {
            let head = String(decoding: bytes.prefix(4096), as: UTF8.self)
            return head.contains("\"fundingRate\"") || head.contains("\"fundings\"") ? .funding : .candles
        }
        let headerEnd = bytes.firstIndex(of: 10) ?? bytes.count
        let trimmed: Set<Character> = [" ", "\r", "\t", "\""]
        let names = String(decoding: bytes[..<headerEnd], as: UTF8.self).lowercased().split(separator: ",").map { name in
            String(name.drop { trimmed.contains($0) }.reversed().drop { trimmed.contains($0) }.reversed())
        }
        let isFunding = names.contains { FundingFormats.rateColumns.contains($0) } && !names.contains("open")
        return isFunding ? .funding : .candles
    }

    /// The row a problem concerns, when it is one row's (then the rest of the file can be read).
    static func row(of error: MarketDataError) -> Int? {
        switch error {
        case .badValue(_, let row, _, _, _), .nonPositivePrice(_, let row, _, _), .beyondLimit(_, let row, _, _, _),
            .highBelowLow(_, let row, _, _), .outsideRange(_, let row, _), .outOfOrder(_, let row, _, _), .duplicate(_, let row, _),
            .wrongFieldCount(_, let row, _, _):
            return row
        case .empty, .missingColumns, .unrecognisedFormat, .invalidJSON, .lineTooLong, .binary:
            return nil
        }
    }

    public static func run(_ bytes: [UInt8], source: String, defaultInterval: TimeSpan = .hours(8), limit: Int = 50) -> Report {
        let kind = kind(of: bytes)
        var text = bytes
        var problems: [MarketDataError] = []
        let json =
            text.first(where: { $0 != 0x20 && $0 != 0x0A && $0 != 0x0D && $0 != 0x09 }).map {
                $0 == UInt8(ascii: "[") || $0 == UInt8(ascii: "{")
            } ?? false
        // Byte offset of each line's start (line 1 is the first).
        var lineStarts = [0]
        for (index, byte) in text.enumerated() where byte == 10 { lineStarts.append(index + 1) }
        while true {
            do {
                switch kind {
                case .candles:
                    let series = try json ? parseCandleJSON(text, source: source) : CandleCSV.parse(text, source: source)
                    return Report(kind: kind, problems: problems, truncated: false, candles: series, funding: nil)
                case .funding:
                    let rates =
                        try json
                        ? parseFundingJSON(text, source: source, defaultInterval: defaultInterval)
                        : FundingFormats.parseCSV(text, source: source, defaultInterval: defaultInterval)
                    return Report(kind: kind, problems: problems, truncated: false, candles: nil, funding: rates)
                }
            } catch {
                let failure = error as? MarketDataError ?? .unrecognisedFormat(source: source, detail: String(describing: error))
                // A row's problem, in CSV: blank the row and read on; anything else ends the check.
                guard !json, let row = row(of: failure), row >= 1, row <= lineStarts.count, problems.count < limit else {
                    let more = problems.count >= limit
                    if !more { problems.append(failure) }
                    return Report(kind: kind, problems: problems, truncated: more, candles: nil, funding: nil)
                }
                problems.append(failure)
                let start = lineStarts[row - 1]
                let end = row < lineStarts.count ? lineStarts[row] - 1 : text.count
                guard start < end else {
                    return Report(kind: kind, problems: problems, truncated: false, candles: nil, funding: nil)
                }
                text.removeSubrange(start..<end)
                let removed = end - start
                for index in row..<lineStarts.count { lineStarts[index] -= removed }
            }
        }
    }

    static func parseCandleJSON(_ bytes: [UInt8], source: String) throws -> CandleSeries {
        let json: JSONValue
        do { json = try JSONParser.parse(bytes) } catch { throw MarketDataError.invalidJSON(source: source, detail: error.description) }
        return json.arrayValue != nil
            ? try CandleJSON.parseBinance(json, source: source) : try CandleJSON.parseLighter(json, source: source)
    }

    static func parseFundingJSON(_ bytes: [UInt8], source: String, defaultInterval: TimeSpan) throws -> [FundingRate] {
        let json: JSONValue
        do { json = try JSONParser.parse(bytes) } catch { throw MarketDataError.invalidJSON(source: source, detail: error.description) }
        return json.arrayValue != nil
            ? try FundingFormats.parseBinance(json, source: source, defaultInterval: defaultInterval)
            : try FundingFormats.parseLighter(json, source: source)
    }
}
