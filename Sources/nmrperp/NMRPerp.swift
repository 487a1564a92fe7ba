import ArgumentParser

@main
struct NMRPerp: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nmrperp",
        abstract: "Numeraire (NMR) perpetual futures: hedge a Numerai stake, check margin and funding, from real data.",
        discussion: """
            Start with `nmrperp hedge plan --stake 10 --price 8`: the USDC to post so that a short of
            your stake on Lighter survives the worst historical squeeze, and its liquidation price.
            Every command prints a table, or JSON with --json. Network look-ups (Binance, Lighter,
            Numerai) are cached in $NMRPERP_HOME (default ~/.nmrperp); set NMRPERP_OFFLINE=1 to
            never touch the network.
            """,
        version: "0.1.0",
        subcommands: [
            HedgeCommand.self, FundingCommand.self, CalcCommand.self, DataCommand.self, StakeCommand.self, MarketCommand.self,
            BacktestCommand.self, BotCommand.self, PaperCommand.self,
            PoolCommand.self, BenchCommand.self,
        ])

    /// Parses the command line with ``NegativeValues/attach(_:)`` applied, so that
    /// `--stake -1` reaches the option's own check ("must be greater than zero") instead of
    /// being read as an unknown flag `-1` ("Missing value for --stake").
    static func main() async {
        await main(NegativeValues.attach(Array(CommandLine.arguments.dropFirst())))
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
