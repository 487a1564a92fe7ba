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
