import PerpMarketData
import PerpModel

/// Bounded reads of the small text inputs the CLI reads itself (the bot's YAML), and the named
/// bounds of input flags (issue 11, "Bounded reads"; docs/decisions/0010-output-files.md).
enum InputFiles {
    /// A configuration file's text: a regular file of at most ``InputLimits/maxConfigBytes``,
    /// with no NUL byte and no line longer than ``InputLimits/maxLineBytes``, in UTF-8.
    static func configText(_ path: String) throws -> String {
        let bytes: [UInt8]
        do {
            bytes = try MarketDataFiles.readBytes(path, limit: InputLimits.maxConfigBytes)
            try InputLimits.check(bytes, source: path)
        } catch let error as FileReadError {
            throw CLIError(error.description)
        } catch {
            throw CLIError(String(describing: error))
        }
        guard let text = String(validating: bytes, as: UTF8.self) else { throw CLIError("\(path): not UTF-8 text") }
        return text
    }

    /// The longest `paper --warmup`: 90 days, the longest window the bot's configuration reads
    /// (`model.train_window`), and at most about 130 requests of 1m bars on a new session.
    static let maxWarmup = TimeSpan.days(90)

    /// `--warmup`, checked against ``maxWarmup``.
    static func warmup(_ span: TimeSpan) throws -> TimeSpan {
        guard span.milliseconds >= 0 else { throw CLIError("--warmup cannot be negative (got \(span))") }
        guard span.milliseconds <= maxWarmup.milliseconds else {
            throw CLIError("--warmup must be at most \(maxWarmup) (the longest warm-up the paper session fetches; got \(span))")
        }
        return span
    }
}

/// One line for a data file that could not be loaded: the flag it was given with, and, when it
/// is the other kind of history (funding given where bars are read, or bars where funding is),
/// a hint that fits that flag (issue 11, "Clear messages").
enum InputMessages {
    enum Wanted { case candles, funding }

    static func error(_ error: any Error, flag: String, wants: Wanted) -> CLIError {
        if let error = error as? FileReadError { return CLIError("cannot read \(flag) \(error.path): \(error.reason)") }
        guard let error = error as? MarketDataError else { return CLIError(String(describing: error)) }
        let bars = "\(flag) takes price bars (open_time_ms, open, high, low, close)"
        let funding = "\(flag) takes a funding history (funding_time_ms, funding_rate)"
        switch (error, wants) {
        case (.missingColumns(let source, _, let found), .candles)
        where found.contains(where: { FundingFormats.rateColumns.contains($0.lowercased()) }):
            return CLIError("\(source): this is a funding history; \(bars)")
        case (.missingColumns(let source, _, let found), .funding)
        where found.contains(where: { ["open", "close"].contains($0.lowercased()) }):
            return CLIError("\(source): these are price bars; \(funding)")
        case (.unrecognisedFormat(let source, let detail), .candles) where detail.hasPrefix("this is a funding history"):
            return CLIError("\(source): this is a funding history; \(bars)")
        default:
            return CLIError(error.description)
        }
    }
}
