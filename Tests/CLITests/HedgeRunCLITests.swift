import Foundation
import PerpModel
import Synchronization
import TestSupport
import Testing

/// `nmrperp hedge run|status|stop` against the Lighter twin and a Numerai stand-in on 127.0.0.1:
/// a real process, Lighter's own signer, SIGKILL at random moments of rebalances.
@Suite(.serialized) struct HedgeRunCLITests {
    /// The throw-away key of the recorded signer vectors (registered nowhere).
    static let key = "0xb5123683b4550f9e541c7412b6692c9ce76836339d06b42c1bd72499ea35c068c9ce8a44e3133c79"
    static let environment = ProcessInfo.processInfo.environment
    static let signerLibrary: String = {
        if let path = environment["NMRPERP_LIGHTER_SIGNER_LIB"], !path.isEmpty { return path }
        let home = environment["NMRPERP_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? ((environment["HOME"] ?? ".") + "/.nmrperp")
        return home + "/lib/lighter-signer-linux-amd64.so"
    }()
    static let signerInstalled = FileManager.default.fileExists(atPath: signerLibrary)
    static let k = "2.7332"

    /// Numerai's GraphQL stand-in: `v3UserProfile { stakeValue }` for any model, the stake the
    /// test sets (the recorded answer's shape, shared/data/api/numerai/graphql_queries.json).
    final class Numerai: Sendable {
        final class Stake: Sendable {
            let value = Mutex("10")
            func withLock<T>(_ body: (inout String) -> T) -> T { value.withLock { body(&$0) } }
        }
        let stake = Stake()
        let server: LoopbackHTTPServer

        init() throws {
            let stake = self.stake
            server = try LoopbackHTTPServer { request in
                guard request.method == "POST" else { return .status(405) }
                let value = stake.withLock { $0 }
                return .json(#"{"data":{"v3UserProfile":{"stakeValue":"\#(value)"}}}"#)
            }
        }

        var url: String { "http://127.0.0.1:\(server.port)/graphql" }
    }

    struct Session {
        let home: URL
        let environment: [String: String]

        init(twin: LighterTwin, numerai: Numerai, keys: Bool = true) throws {
            home = FileManager.default.temporaryDirectory.appendingPathComponent("nmrperp-hedge-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
            var environment = [
                "NMRPERP_HOME": home.path, "NMRPERP_OFFLINE": "0", "NMRPERP_LIGHTER_URL": twin.baseURL, "NMRPERP_NUMERAI_URL": numerai.url,
                "NMRPERP_LIGHTER_SIGNER_LIB": HedgeRunCLITests.signerLibrary, "NMRPERP_LOG_LEVEL": "info",
            ]
            if keys {
                environment["NMRPERP_LIGHTER_ACCOUNT_INDEX"] = String(twin.accountIndex)
                environment["NMRPERP_LIGHTER_API_KEY_INDEX"] = "4"
                environment["NMRPERP_LIGHTER_API_PRIVATE_KEY"] = HedgeRunCLITests.key
            }
            self.environment = environment
        }

        func run(_ arguments: [String], timeout: Double = 60) throws -> CLIResult {
            try CLI.run(arguments, environment: environment, timeout: timeout)
        }

        static let runArguments = [
            "hedge", "run", "--model", "model_a", "--collateral-multiple", HedgeRunCLITests.k, "--name", "main", "--max-polls", "1",
            "--poll", "5s",
        ]
    }

    /// `k·q·P` rounded up to the micro-dollar, as the hedge posts it.
    static func required(short: Quantity, price: Price) -> Notional {
        (Fraction(Rate(k)!) * Fraction(short) * Fraction(price)).rounded(to: Notional.self, .up)
    }

    @Test func dryRunNeedsNoKeyAndSendsNothing() throws {
        let twin = try LighterTwin()
        defer { twin.shutdown() }
        let numerai = try Numerai()
        let session = try Session(twin: twin, numerai: numerai, keys: false)
        let result = try session.run([
            "hedge", "run", "--model", "model_a", "--collateral-multiple", Self.k, "--dry-run", "--account", String(twin.accountIndex),
            "--max-polls", "2", "--poll", "5s",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("dry run: would sell 10"), "\(result.stderr)")
        #expect(result.stderr.components(separatedBy: "dry run: would sell").count == 2, "said once: \(result.stderr)")
        #expect(twin.acceptedTransactions.isEmpty)
        #expect(!twin.requests.contains { $0.path == "/api/v1/sendTx" })
        let status = try session.run(["hedge", "status", "--json"])
        #expect(status.status == 0, "\(status.stderr)")
        let json = try status.json()
        #expect(json["dry_run"] as? Bool == true)
        #expect(json["stake"] as? Double == 10)
        #expect(json["state"] as? String == "rebalancing")
    }

    @Test func fundingUnitsAreCrossCheckedAndADisagreementIsLoud() throws {
        let twin = try LighterTwin()
        defer { twin.shutdown() }
        let numerai = try Numerai()
        let session = try Session(twin: twin, numerai: numerai, keys: false)
        let hour = twin.clock / 3_600_000 * 3_600_000
        twin.setFunding(rows: [(hour - 7_200_000, "0.0011", "long"), (hour - 3_600_000, "0.0012", "long")], snapshot: "0.000096")
        let agree = try session.run(["funding", "units"])
        #expect(agree.status == 0, "\(agree.stderr)")
        #expect(agree.stdout.contains("funding units agree"), "\(agree.stdout)")
        twin.setFunding(rows: [(hour - 3_600_000, "0.0012", "long")], snapshot: "0.0096")
        let disagree = try session.run(["funding", "units"])
        #expect(disagree.status == 3)
        #expect(disagree.stdout.contains("FUNDING UNITS DISAGREE by a factor of about 100"), "\(disagree.stdout)")
        // --json: the verdict as fields, the same exit status.
        let described = try session.run(["funding", "units", "--json"])
        #expect(described.status == 3)
        let verdict = try described.json()
        #expect(verdict["verdict"] as? String == "units_error" && verdict["factor"] as? Double == 100, "\(verdict)")
        #expect((verdict["message"] as? String)?.contains("FUNDING UNITS DISAGREE") == true)
        let dryRun = try session.run([
            "hedge", "run", "--model", "model_a", "--collateral-multiple", Self.k, "--dry-run", "--account", String(twin.accountIndex),
            "--max-polls", "1", "--poll", "5s",
        ])
        #expect(dryRun.stderr.contains("WARNING FUNDING UNITS DISAGREE"), "\(dryRun.stderr)")
    }

    @Test func refusesBadInputWithOneClearLine() throws {
        let twin = try LighterTwin()
        defer { twin.shutdown() }
        let numerai = try Numerai()
        let session = try Session(twin: twin, numerai: numerai, keys: false)
        let cases: [([String], String)] = [
            (["hedge", "run"], "--model"),
            (["hedge", "run", "--model", "a", "--g", "3", "--collateral-multiple", "2"], "at most one of"),
            (["hedge", "run", "--model", "a", "--drift", "150%"], "--drift"),
            (["hedge", "run", "--model", "a", "--drift", "abc"], "--drift"),
            (["hedge", "run", "--model", "a", "--warn-at", "1"], "--warn-at"),
            (["hedge", "run", "--model", "a", "--poll", "1s"], "--poll"),
            (["hedge", "run", "--model", "a", "--rebalance", "5m"], "--rebalance"),
            (["hedge", "run", "--model", "a", "--venue", "kraken"], "--venue"),
            (["hedge", "run", "--model", "a", "--name", "../x"], "--name"),
            (["hedge", "run", "--model", "a", "--notify", "ftp://x"], "--notify"),
            (["hedge", "run", "--model", "a", "--collateral-multiple", "2.7"], "no Lighter API key"),
            (["hedge", "run", "--model", "a", "--dry-run", "--collateral-multiple", "2.7"], "--account"),
            (["hedge", "status", "--name", "nothing"], "no hedge session"),
            (["hedge", "stop", "--name", "nothing"], "no hedge session"),
        ]
        for (arguments, needle) in cases {
            let result = try session.run(arguments)
            #expect(result.status != 0, "\(arguments) should fail")
            #expect(result.stderr.contains(needle), "\(arguments): \(result.stderr)")
            #expect(!result.stderr.contains("Fatal error"), "\(arguments) trapped: \(result.stderr)")
        }
        #expect(twin.acceptedTransactions.isEmpty)
    }

    @Test(.enabled(if: signerInstalled, "Lighter's signer is not installed (bash scripts/install-lighter-signer.sh)"))
    func followsTheStakeAcrossRunsAndStops() async throws {
        let twin = try LighterTwin(collateral: Notional(5000))
        defer { twin.shutdown() }
        let numerai = try Numerai()
        let session = try Session(twin: twin, numerai: numerai)
        let steps: [(String, String)] = [("10", "8.4603"), ("14.5", "8.4603"), ("14.5", "9.4000"), ("6", "9.4000"), ("6", "8.1000")]
        for (stake, price) in steps {
            numerai.stake.withLock { $0 = stake }
            twin.setMark(Price(price)!)
            let result = try await offPool { try session.run(Session.runArguments) }
            #expect(result.status == 0, "\(result.stderr)")
            #expect(twin.positionQuantity == Quantity(raw: -Quantity(stake)!.raw), "stake \(stake) at \(price): \(result.stderr)")
            let required = Self.required(short: Quantity(stake)!, price: Price(price)!)
            #expect((twin.isolatedEquity - required).magnitude <= Notional("0.01")!, "collateral \(twin.isolatedEquity) vs \(required)")
        }
        #expect(twin.marginIsIsolated)
        #expect(twin.leverageFraction == 3333)
        let status = try session.run(["hedge", "status", "--name", "main"])
        #expect(status.status == 0, "\(status.stderr)")
        #expect(status.stdout.contains("6 NMR staked, 6 NMR short"), "\(status.stdout)")
        #expect(status.stdout.contains("k·q·P ="), "\(status.stdout)")
        let stop = try session.run(["hedge", "stop", "--name", "main", "--close"])
        #expect(stop.status == 0, "\(stop.stderr)")
        #expect(twin.positionQuantity == .zero, "\(stop.stdout) \(stop.stderr)")
        // The key never shows.
        let journal = try session.run(["hedge", "journal", "--name", "main"])
        #expect(!journal.stdout.contains(String(Self.key.dropFirst(2))))
        #expect(!status.stdout.contains(String(Self.key.dropFirst(2))))
    }

    @Test(.enabled(if: signerInstalled, "Lighter's signer is not installed (bash scripts/install-lighter-signer.sh)"))
    func killedAtRandomPointsDuringRebalancesNeverDoubles() async throws {
        let kills = LiveTradingCLITests.campaignKills
        let twin = try LighterTwin(collateral: Notional(50_000))
        defer { twin.shutdown() }
        let numerai = try Numerai()
        let session = try Session(twin: twin, numerai: numerai)
        var random = SplitMix64(seed: 20_261_203)
        // Half the runs meet a changed stake and price, so most runs rebalance.
        func move() -> (stake: Quantity, price: Price) {
            let stake = Quantity(raw: (500 + Int64(random.next() % 3000)) * 1_000_000)  // 5.00 … 34.99 NMR
            let price = Price(raw: (700 + Int64(random.next() % 300)) * 1_000_000)  // 7.00 … 9.99
            numerai.stake.withLock { $0 = stake.description }
            twin.setMark(price)
            return (stake, price)
        }
        _ = move()
        let span = try await offPool { [session] in
            try LiveTradingCLITests.runLength(Session.runArguments, environment: session.environment)
        }
        var killed = 0
        var outputs = ""
        var last = move()
        while killed < kills {
            if random.next() % 2 == 0 { last = move() }
            if random.next() % 5 == 0 { twin.updateFaults { $0.dropAnswerAfterExecution = 1 } }
            let delay = 2 * span * Double(random.next() % 1000) / 1000
            let result = try await offPool { [session] in
                try CLI.runKilled(Session.runArguments, environment: session.environment, after: delay)
            }
            outputs += result.output
            if result.killed { killed += 1 }
        }
        twin.updateFaults { $0 = LighterTwinFaults() }
        // The last run must have a rebalance to make: a stake and price within the drift (5 %) of
        // the last rebalance are rightly left alone, which the random walk above can end on.
        let held = twin.positionQuantity.magnitude
        let finalStake = held > Quantity(20) ? held - Quantity(4) : held + Quantity(4)
        numerai.stake.withLock { $0 = finalStake.description }
        last = (finalStake, last.price)
        let final = try await offPool { [session] in try session.run(Session.runArguments) }
        #expect(final.status == 0, "\(final.stderr)")
        let indices = twin.allOrders.map(\.clientOrderIndex)
        #expect(Set(indices).count == indices.count, "a client order index was sent twice")
        #expect(
            twin.positionQuantity == Quantity(raw: -last.stake.raw),
            "final short \(twin.positionQuantity) vs stake \(last.stake): \(final.stdout)")
        let required = Self.required(short: last.stake, price: last.price)
        #expect((twin.isolatedEquity - required).magnitude <= Notional("0.01")!, "collateral \(twin.isolatedEquity) vs \(required)")
        print(
            "hedge crash campaign: \(killed) SIGKILLs (at 0–\(Int(2 * span * 1000)) ms); venue: \(twin.allOrders.count) orders, \(twin.allTrades.count) trades, \(twin.acceptedTransactions.count) transactions; final short \(twin.positionQuantity), collateral \(twin.isolatedEquity) (k·q·P \(required))"
        )
        #expect(!outputs.contains(String(Self.key.dropFirst(2))))
        #expect(!outputs.contains("Fatal error"))
    }

    @Test func poolStatusChecksTheVenuesPoolAgainstOurShareAccounting() throws {
        let twin = try LighterTwin()
        defer { twin.shutdown() }
        let numerai = try Numerai()
        let session = try Session(twin: twin, numerai: numerai, keys: false)
        let pool: Int64 = 281_474_976_710_600
        // 12,345.678901 USDC over 10,000,000 shares: 0.0012345678 a share; the operator holds 12 %.
        twin.servePool(
            index: pool, nav: Notional("12345.678901")!, totalShares: 10_000_000, operatorShares: 1_200_000, minimum: 1000,
            sharePrice: "0.0012345")
        let result = try session.run(["pool", "status", "--account", String(pool), "--collateral-multiple", Self.k, "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let json = try result.json()
        #expect((json["problems"] as? [String])?.isEmpty == true, "\(json)")
        #expect(json["operator_fraction"] as? Double == 0.12)
        #expect(json["share_price"] as? Double == 0.00123456)
        let claims = json["sum_of_claims"] as? Double ?? 0
        #expect(claims <= 12345.678901 && claims > 12345.6789)
        // NAV / (k·P) = 12345.678901 / (2.7332 × 8.4603) = 533.897… → 533.89 NMR (down to the lot).
        #expect(json["target_short"] as? Double == 533.89)
        // The operator below its minimum: a failed check, exit 3, said in one sentence.
        twin.servePool(
            index: pool, nav: Notional("12345.678901")!, totalShares: 10_000_000, operatorShares: 500_000, minimum: 1000,
            sharePrice: "0.0012345")
        let below = try session.run(["pool", "status", "--account", String(pool)])
        #expect(below.status == 3)
        #expect(below.stdout.contains("below the minimum"), "\(below.stdout)")
        let notPool = try session.run(["pool", "status", "--account", String(twin.accountIndex)])
        #expect(notPool.status != 0)
        #expect(notPool.stderr.contains("is not a public pool"), "\(notPool.stderr)")
    }

    @Test(.enabled(if: signerInstalled, "Lighter's signer is not installed (bash scripts/install-lighter-signer.sh)"))
    func poolCreationSaysPlainlyWhenTheVenueDoesNotAllowIt() throws {
        let twin = try LighterTwin(collateral: Notional(5000))
        defer { twin.shutdown() }
        let numerai = try Numerai()
        let session = try Session(twin: twin, numerai: numerai)
        let arguments = ["pool", "create", "--operator-fee", "10%", "--min-operator-share", "10%", "--initial-usdc", "1000"]
        let refused = try session.run(arguments)
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("whitelisted by Lighter"), "\(refused.stderr)")
        #expect(twin.acceptedTransactions.isEmpty)
        twin.setPoolWhitelisted(true)
        let created = try session.run(arguments)
        #expect(created.status == 0, "\(created.stderr)")
        #expect(created.stdout.contains("pool creation accepted"), "\(created.stdout)")
        #expect(twin.createdPools.count == 1)
        #expect(twin.createdPools.first?.fee == 100_000)
        #expect(twin.createdPools.first?.shares == 1_000_000)
        #expect(twin.createdPools.first?.minimum == 1000)
        let dryRun = try session.run(arguments + ["--dry-run"])
        #expect(dryRun.stdout.contains("OperatorFee 100000 (of 1,000,000), InitialTotalShares 1000000, MinOperatorShareRate 1000"))
        let small = try session.run(["pool", "create", "--operator-fee", "0", "--min-operator-share", "5%", "--initial-usdc", "999"])
        #expect(small.stderr.contains("at least 1000"), "\(small.stderr)")
    }
}
