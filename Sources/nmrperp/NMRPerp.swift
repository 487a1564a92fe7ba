import ArgumentParser
import Foundation
import PerpMarketData

@main
struct NMRPerp: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nmrperp",
        abstract: "Numeraire (NMR) perpetual futures: hedge a Numerai stake, check margin and funding, from real data.",
        discussion: """
            Start with `nmrperp hedge plan --stake 10 --price 8`: the USDC to post so that a short of \
            your stake on Lighter survives the worst historical squeeze, and its liquidation price. \
            Every command prints a table, or JSON with --json. Network look-ups (Binance, Lighter, \
            Numerai) are cached in $NMRPERP_HOME (default ~/.nmrperp); set NMRPERP_OFFLINE=1 to \
            never touch the network.
            """,
        version: "0.1.0",
        subcommands: [
            HedgeCommand.self, FundingCommand.self, CalcCommand.self, DataCommand.self, StakeCommand.self, SignalsCommand.self,
            MarketCommand.self,
            BacktestCommand.self, BotCommand.self, PaperCommand.self, LiveCommand.self, JournalCommand.self,
            PoolCommand.self, DashboardCommand.self, BenchCommand.self,
        ])

    /// Parses the command line with ``NegativeValues/attach(_:)`` applied, so that
    /// `--stake -1` reaches the option's own check ("must be greater than zero") instead of
    /// being read as an unknown flag `-1` ("Missing value for --stake").
    ///
    /// Every error ends in at most a few short lines: a value quoted back (ours or the argument
    /// parser's) is cut to 300 characters, so a 3000-character argument cannot flood the
    /// terminal or a log (issue 11).
    static func main() async {
        let arguments = NegativeValues.attach(Array(CommandLine.arguments.dropFirst()))
        // `backtest --list-strategies` needs neither --data nor --strategy, which the parser
        // would otherwise ask for first.
        if arguments.first == "backtest", arguments.contains("--list-strategies"), !arguments.contains("--help"), !arguments.contains("-h")
        {
            print(StrategyName.listing)
            return
        }
        do {
            var command = try parseAsRoot(arguments)
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            let code = exitCode(for: error)
            let typo = RequiredFlagTypo.message(for: fullMessage(for: error), arguments: arguments)
            let message = typo ?? fullMessage(for: error)
            guard code != .success, typo != nil || message.split(separator: "\n").contains(where: { $0.count > 300 }) else {
                exit(withError: error)
            }
            let lines = message.split(separator: "\n", omittingEmptySubsequences: false).map { line in
                line.count > 300 ? String(line.prefix(300)) + "… (cut)" : String(line)
            }
            printError(lines.joined(separator: "\n"))
            Foundation.exit(code.rawValue)
        }
    }
}

/// Negative numbers as option values (issue 11, clear messages).
enum NegativeValues {
    /// Joins `--option -1` into `--option=-1` when the token after a long option is a negative
    /// number (`-1`, `-0.5`, `-.5`, `-1e3`), so the parser hands it to the option rather than
    /// taking it for a short flag. Everything else is left as it is.
    static func attach(_ arguments: [String]) -> [String] {
        var result: [String] = []
        result.reserveCapacity(arguments.count)
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            if argument == "--" {
                result += arguments[index...]
                break
            }
            if argument.hasPrefix("--"), argument.count > 2, !argument.contains("="), index + 1 < arguments.count,
                isNegativeNumber(arguments[index + 1])
            {
                result.append(argument + "=" + arguments[index + 1])
                index += 2
                continue
            }
            result.append(argument)
            index += 1
        }
        return result
    }

    static func isNegativeNumber(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard bytes.count >= 2, bytes[0] == UInt8(ascii: "-") else { return false }
        let next = bytes[1]
        if next >= 48 && next <= 57 { return true }
        return next == UInt8(ascii: ".") && bytes.count >= 3 && bytes[2] >= 48 && bytes[2] <= 57
    }
}

/// A misspelt required flag (`--dat x` for `--data x`) gets the did-you-mean a misspelt
/// optional flag gets (issue 15). The argument parser reports the missing required flag before
/// the unknown one, so the line is re-parsed with the missing flag given a placeholder: if that
/// parse then names an unknown option close to the missing one, that option was the typo.
enum RequiredFlagTypo {
    static func message(for message: String, arguments: [String]) -> String? {
        guard let missing = missingFlag(in: message) else { return nil }
        var probe = arguments
        let end = probe.firstIndex(of: "--") ?? probe.count
        probe.insert("\(missing)=0", at: end)
        let second: String
        do {
            _ = try NMRPerp.parseAsRoot(probe)
            return nil
        } catch {
            second = NMRPerp.fullMessage(for: error)
        }
        guard let unknown = unknownOption(in: second), similar(unknown, missing) else { return nil }
        let usage = message.split(separator: "\n").filter { $0.hasPrefix("Usage:") || $0.contains("See '") }
        return (["Error: Unknown option '\(unknown)'. Did you mean '\(missing)'?"] + usage.map(String.init)).joined(separator: "\n")
    }

    /// `--data` from "Missing expected argument '--data <data>'".
    static func missingFlag(in message: String) -> String? {
        guard let range = message.range(of: "Missing expected argument '--") else { return nil }
        let rest = message[range.upperBound...]
        let name = rest.prefix { $0.isLetter || $0.isNumber || $0 == "-" }
        return name.isEmpty ? nil : "--" + name
    }

    /// `--dat` from "Unknown option '--dat'".
    static func unknownOption(in message: String) -> String? {
        guard let range = message.range(of: "Unknown option '") else { return nil }
        let name = message[range.upperBound...].prefix { $0 != "'" }
        return name.hasPrefix("--") ? String(name) : nil
    }

    /// A prefix of the flag, or at most two edits away (a third for long names).
    static func similar(_ typo: String, _ flag: String) -> Bool {
        if flag.hasPrefix(typo) && typo.count >= 4 { return true }
        let a = String(typo.dropFirst(2))
        let b = String(flag.dropFirst(2))
        guard !a.isEmpty, !b.isEmpty, abs(a.count - b.count) <= 3 else { return false }
        return TextDistance.levenshtein(a, b) <= (b.count >= 8 ? 3 : 2)
    }
}
