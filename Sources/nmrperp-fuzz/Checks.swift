/// The pass criteria of one case, and the crash site a failure is grouped by.
enum FailureClass: String, CaseIterable, Sendable {
    case signal
    case timeout
    case badExit = "bad-exit"
    case crashText = "crash-text"
    case stderrTooLong = "stderr-too-long"
    case harness
}

struct Limits {
    var stderrLines = 6
    /// ArgumentParser's usage errors print the error, the option's help, the usage line and a hint.
    var usageStderrLines = 10
    var lineLength = 400
}

enum Checks {
    static let crashMarkers = ["Fatal error", "Program crashed", "Backtrace", "Crash at"]

    /// Nil when the case passed.
    static func failure(_ result: RunResult, limits: Limits) -> FailureClass? {
        switch result.outcome {
        case .spawnFailed: return .harness
        case .timedOut: return .timeout
        case .signalled: return .signal
        case .exited(let code):
            if code >= 128 { return .signal }
            if ![0, 1, 64].contains(code) { return .badExit }
            if crashMarkers.contains(where: { result.stderr.contains($0) || result.stdout.contains($0) }) { return .crashText }
            let lines = result.stderr.split(separator: "\n", omittingEmptySubsequences: false)
                .filter { !$0.isEmpty }
            var allowed = code == 64 ? limits.usageStderrLines : limits.stderrLines
            // `bot check` lists every problem of a configuration, one short line each, by
            // design: a "FILE: N problems:" list of "  - " lines is one message, not a flood.
            if code == 1, lines.count <= 64, lines.first?.hasSuffix("problems:") == true,
                lines.dropFirst().allSatisfy({ $0.hasPrefix("  - ") })
            {
                allowed = lines.count
            }
            if lines.count > allowed || lines.contains(where: { $0.count > limits.lineLength }) { return .stderrTooLong }
            return nil
        }
    }

    /// The `Fatal error:` line without the build's absolute path, e.g.
    /// `PerpModel/FixedPoint.swift:77: Fatal error: …`; for other failures, a short description.
    static func site(_ result: RunResult, failure: FailureClass, limits: Limits) -> String {
        for line in result.stderr.split(separator: "\n") where line.contains("Fatal error") {
            return shorten(String(line))
        }
        switch failure {
        case .timeout: return "timeout"
        case .stderrTooLong:
            let lines = result.stderr.split(separator: "\n")
            let longest = lines.map(\.count).max() ?? 0
            // Most are one message quoting a generated 400–3000-character value back: one site.
            let echoes = lines.contains {
                $0.contains(String(repeating: "a", count: 200)) || $0.contains(String(repeating: "9", count: 200))
            }
            if longest > limits.lineLength, echoes {
                return "an error message quotes a long argument value back in full (lines over \(limits.lineLength) characters)"
            }
            let first = lines.first.map { String($0.prefix(120)) } ?? ""
            return "stderr \(lines.count) lines, longest \(longest): \(first)"
        default: return "\(result.outcome)"
        }
    }

    /// `/work/x/Sources/PerpModel/FixedPoint.swift:77: Fatal error` → `PerpModel/FixedPoint.swift:77: Fatal error`,
    /// with long messages cut.
    static func shorten(_ line: String) -> String {
        var text = line
        if let range = text.range(of: "/Sources/") { text = String(text[range.upperBound...]) }
        // Sizes and values in the message vary by case; the site does not.
        if let range = text.range(of: "Fatal error") {
            var message = ""
            var inNumber = false
            for character in text[range.lowerBound...] {
                if character.isNumber {
                    if !inNumber { message.append("N") }
                    inNumber = true
                } else {
                    inNumber = false
                    message.append(character)
                }
            }
            text = String(text[..<range.lowerBound]) + message
        }
        return String(text.prefix(240))
    }

    /// The first frames of ours in a Swift backtrace, innermost first:
    /// `FixedMath.mulDiv (PerpModel/FixedPoint.swift:77) ← Price.times (PerpModel/Units.swift:67) ← …`.
    static func ownFrames(_ backtrace: String, depth: Int = 4) -> String? {
        var frames: [String] = []
        for line in backtrace.split(separator: "\n") where line.contains("/Sources/") && !line.contains("/.build/") {
            let frame = String(line)
            guard let at = frame.range(of: " in ", options: .backwards), let location = frame.range(of: "/Sources/") else { continue }
            var function = String(frame[..<at.lowerBound])
            if let plus = function.range(of: " + ", options: .backwards) { function = String(function[..<plus.lowerBound]) }
            if let address = function.range(of: "0x") {
                function = String(function[address.lowerBound...].drop(while: { $0 != " " }).dropFirst())
            }
            if let paren = function.firstIndex(of: "(") { function = String(function[..<paren]) }
            var place = String(frame[location.upperBound...])
            // file:line, without the column.
            if place.split(separator: ":").count > 2 { place = place.split(separator: ":").prefix(2).joined(separator: ":") }
            frames.append("\(function.replacingOccurrences(of: "static ", with: "")) (\(place))")
            if frames.count == depth { break }
        }
        return frames.isEmpty ? nil : frames.joined(separator: " ← ")
    }
}
