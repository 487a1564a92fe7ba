import Foundation

/// One option of a command as its `--help` lists it.
struct OptionSpec: Sendable {
    var name: String
    /// Takes a value (`--data <data>`) rather than being a flag (`--json`).
    var takesValue: Bool
    /// Required: it appears outside brackets on the usage line.
    var required: Bool
    /// The option's help text, joined onto one line.
    var help: String

    /// The `(default: …)` of the help text.
    var defaultValue: String? { between("(default: ", ")") }

    /// The `(values: a, b)` of the help text.
    var allowedValues: [String] {
        guard let list = between("(values: ", ")") else { return [] }
        return list.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    private func between(_ open: String, _ close: String) -> String? {
        guard let start = help.range(of: open) else { return nil }
        guard let end = help[start.upperBound...].range(of: close) else { return nil }
        return String(help[start.upperBound..<end.lowerBound])
    }
}

/// A command (a leaf or a group) found by reading `--help`.
struct CommandSpec: Sendable {
    var path: [String]
    var options: [OptionSpec]
    var isGroup: Bool

    var name: String { path.joined(separator: " ") }
}

/// Reads `nmrperp --help` and every subcommand's `--help`, so commands added later are fuzzed
/// without touching the harness.
enum Discovery {
    static func commands(binary: String, environment: [String: String]) throws -> [CommandSpec] {
        var found: [CommandSpec] = []
        var queue: [[String]] = [[]]
        var seen = Set<[String]>()
        while !queue.isEmpty {
            let path = queue.removeFirst()
            guard path.count <= 4, seen.insert(path).inserted else { continue }
            let text = try helpText(binary: binary, path: path, environment: environment)
            let parsed = parse(help: text)
            found.append(CommandSpec(path: path, options: parsed.options, isGroup: !parsed.subcommands.isEmpty))
            for sub in parsed.subcommands { queue.append(path + [sub]) }
        }
        return found
    }

    static func helpText(binary: String, path: [String], environment: [String: String]) throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("nmrperp-fuzz-help-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        var env = environment
        env["NMRPERP_HOME"] = directory.path + "/home"
        let result = Runner.run(
            binary: binary, arguments: path + ["--help"], directory: directory.path, environment: env, timeout: 30)
        guard result.outcome == .exited(0) else {
            throw HarnessError("`\(([binary] + path + ["--help"]).joined(separator: " "))` did not exit 0 (\(result.outcome))")
        }
        return result.stdout
    }

    /// The options and subcommand names in one help page.
    static func parse(help: String) -> (options: [OptionSpec], subcommands: [String]) {
        let lines = help.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var section = ""
        var usage = ""
        var options: [OptionSpec] = []
        var subcommands: [String] = []
        for line in lines {
            if line.hasPrefix("USAGE:") {
                section = "USAGE"
                usage = line
                continue
            }
            if !line.hasPrefix(" "), line.hasSuffix(":"), line == line.uppercased() {
                section = String(line.dropLast())
                continue
            }
            if section == "USAGE", line.hasPrefix(" ") {
                usage += " " + line.trimmingCharacters(in: .whitespaces)
                continue
            }
            let indent = line.prefix(while: { $0 == " " }).count
            let body = line.trimmingCharacters(in: .whitespaces)
            if body.isEmpty { continue }
            switch section {
            case "OPTIONS", "FLAGS":
                if indent == 2, body.hasPrefix("-") {
                    options.append(option(from: body))
                } else if !options.isEmpty {
                    options[options.count - 1].help += " " + body
                }
            case "SUBCOMMANDS":
                // `  plan      How much…` or `  run (default)  …`; not the closing `  See 'nmrperp help …'`.
                if indent == 2, let first = body.split(separator: " ").first,
                    first.allSatisfy({ ($0.isLetter && $0.isLowercase) || $0.isNumber || $0 == "-" }),
                    first.first?.isLetter == true, !subcommands.contains(String(first))
                {
                    subcommands.append(String(first))
                }
            default:
                continue
            }
        }
        // Required options are those on the usage line outside brackets.
        var depth = 0
        var outside = ""
        for character in usage {
            if character == "[" { depth += 1 } else if character == "]" { depth -= 1 } else if depth == 0 { outside.append(character) }
        }
        let requiredNames = Set(
            outside.split(separator: " ").filter { $0.hasPrefix("--") }.map { String($0) })
        for index in options.indices where requiredNames.contains(options[index].name) {
            options[index].required = true
        }
        return (options.filter { $0.name != "--help" && $0.name != "--version" }, subcommands)
    }

    /// `-h, --help  Show help` or `--data <data>  Candle history`.
    private static func option(from body: String) -> OptionSpec {
        var words = body.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
        if let first = words.first, first.hasSuffix(","), !first.hasPrefix("--") { words.removeFirst() }
        let name = words.first ?? body
        let takesValue = words.count > 1 && words[1].hasPrefix("<")
        let rest = words.dropFirst(takesValue ? 2 : 1).joined(separator: " ").trimmingCharacters(in: .whitespaces)
        return OptionSpec(name: name, takesValue: takesValue, required: false, help: rest)
    }
}

struct HarnessError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
