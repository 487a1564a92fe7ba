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
}
