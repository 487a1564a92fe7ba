import PerpExecution
import PerpModel
import Testing

/// The stake hedge's pure state machine (decision 0015): what it decides from an observation,
/// in which order, and what it refuses to do.
@Suite struct StakeHedgeTests {
    static let rules = MarketRules(
        symbol: "NMR", tickSize: Price("0.0001")!, lotSize: Quantity("0.01")!, maxMarketQuantity: Quantity(100_000),
        minNotional: Notional(1))

    static func settings(maxOrder: Quantity = Quantity(100_000), cross: Bool = false) -> HedgeSettings {
        HedgeSettings(
            collateralMultiple: Rate("2.7332")!, maintenanceFraction: Rate("0.2")!, rebalanceEvery: .days(30), drift: Rate("0.05")!,
            warnAt: Rate("0.5")!, rules: rules, maxOrder: maxOrder, sessionTag: "abcdefgh", crossMargin: cross)
    }

    static func look(
        _ minute: Int64, stake: String?, price: String = "8", position: String = "0", margin: String = "0", available: String = "10000",
        liquidation: String? = nil
    ) -> HedgeObservation {
        HedgeObservation(
            time: Timestamp(milliseconds: 1_790_000_000_000 + minute * 60_000), stake: stake.map { Quantity($0)! }, price: Price(price)!,
            position: Quantity(position)!, isolatedMargin: Notional(margin)!, available: Notional(available)!,
            liquidationPrice: liquidation.map { Price($0)! })
    }

    static func sends(_ actions: [HedgeAction]) -> [OrderIntent] {
        actions.compactMap { if case .send(let intent) = $0 { intent } else { nil } }
    }

    static func moves(_ actions: [HedgeAction]) -> [(Notional, Bool)] {
        actions.compactMap { if case .moveMargin(_, let amount, let add) = $0 { (amount, add) } else { nil } }
    }

    @Test func opensTheShortThenPostsTheCollateral() {
        var session = StakeHedgeSession(settings: Self.settings())
        let first = session.apply(.observed(Self.look(0, stake: "10")))
        let order = Self.sends(first)
        #expect(order.count == 1)
        #expect(order.first?.side == .short)
        #expect(order.first?.quantity == Quantity(10))
        #expect(order.first?.reduceOnly == false)
        #expect(order.first?.purpose == .hedge)
        #expect(order.first?.clientID == "np-abcdefgh-1h")
        // Once the order is recorded as sent, nothing else is decided until its answer is in.
        _ = session.apply(.orderSent(order[0]))
        #expect(session.apply(.observed(Self.look(1, stake: "10"))).isEmpty)
        _ = session.apply(
            .submitted(
                clientID: order[0].clientID,
                .accepted(
                    VenueOrder(
                        clientID: order[0].clientID, venueOrderID: "1", kind: .market, side: .short, status: .filled,
                        quantity: Quantity(10),
                        filledQuantity: Quantity(10), averagePrice: Price(8), triggerPrice: nil, reduceOnly: false,
                        updatedAt: Timestamp(milliseconds: 0))), at: Self.look(1, stake: nil).time))
        // The venue took 26.67 of initial margin; k·q·P = 2.7332 × 10 × 8 = 218.656.
        let collateral = session.apply(.observed(Self.look(2, stake: "10", position: "-10", margin: "26.67")))
        let move = Self.moves(collateral)
        #expect(move.count == 1)
        #expect(move.first?.0 == Notional("191.986")!)
        #expect(move.first?.1 == true)
        _ = session.apply(.marginSent(sequence: 1, amount: Notional("191.986")!, add: true, at: Self.look(2, stake: nil).time))
        _ = session.apply(.marginAnswered(sequence: 1, .done, at: Self.look(2, stake: nil).time))
        let done = session.apply(.observed(Self.look(3, stake: "10", position: "-10", margin: "218.656", liquidation: "24.8880")))
        #expect(done.contains { if case .note(let note) = $0 { note.kind == .done } else { false } })
        #expect(session.rebalances == 1)
        // The warning price: half-way from 8 to 24.888.
        #expect(session.warningPrice == Price("16.444")!)
    }

    @Test func aLongPositionHaltsAndAZeroStakeClosesTheShort() {
        var halted = StakeHedgeSession(settings: Self.settings())
        let actions = halted.apply(.observed(Self.look(0, stake: "10", position: "5")))
        #expect(Self.sends(actions).isEmpty)
        #expect(halted.halted?.contains("long of 5") == true)
        #expect(Self.sends(halted.apply(.observed(Self.look(1, stake: "10")))).isEmpty)

        var closing = StakeHedgeSession(settings: Self.settings())
        let close = Self.sends(closing.apply(.observed(Self.look(0, stake: "0", position: "-7.5", margin: "100"))))
        #expect(close.count == 1)
        #expect(close.first?.side == .long)
        #expect(close.first?.reduceOnly == true)
        #expect(close.first?.quantity == Quantity("7.5")!)
    }

    @Test func aLargeResizeGoesInSlices() {
        var session = StakeHedgeSession(settings: Self.settings(maxOrder: Quantity(4)))
        let first = Self.sends(session.apply(.observed(Self.look(0, stake: "10"))))
        #expect(first.first?.quantity == Quantity(4))
    }

    @Test func aShortfallPostsWhatIsFreeAndWarnsOnce() {
        var session = StakeHedgeSession(settings: Self.settings())
        let actions = session.apply(.observed(Self.look(0, stake: "10", position: "-10", margin: "26.67", available: "50")))
        #expect(
            actions.contains {
                if case .note(let note) = $0 { note.kind == .warning && note.text.contains("Deposit at least") } else { false }
            })
        #expect(Self.moves(actions).first?.0 == Notional(50))
        _ = session.apply(.marginSent(sequence: 1, amount: Notional(50), add: true, at: Self.look(0, stake: nil).time))
        _ = session.apply(.marginAnswered(sequence: 1, .done, at: Self.look(0, stake: nil).time))
        let again = session.apply(.observed(Self.look(1, stake: "10", position: "-10", margin: "76.67", available: "0")))
        #expect(!again.contains { if case .note(let note) = $0 { note.kind == .warning } else { false } })
        #expect(Self.moves(again).isEmpty)
    }

    @Test func aLostMarginAnswerWaitsForTheVenueToShowIt() {
        var session = StakeHedgeSession(settings: Self.settings())
        _ = session.apply(.observed(Self.look(0, stake: "10", position: "-10", margin: "26.67")))
        _ = session.apply(.marginSent(sequence: 1, amount: Notional("191.986")!, add: true, at: Self.look(0, stake: nil).time))
        _ = session.apply(.marginAnswered(sequence: 1, .unknown("timeout"), at: Self.look(0, stake: nil).time))
        // 5 s later the venue does not show it yet: nothing (no second deposit).
        var early = Self.look(0, stake: "10", position: "-10", margin: "26.67")
        early.time = early.time + .seconds(5)
        #expect(Self.moves(session.apply(.observed(early))).isEmpty)
        // After the grace it shows the first one: done, never deposited twice.
        let later = session.apply(.observed(Self.look(1, stake: "10", position: "-10", margin: "218.656")))
        #expect(Self.moves(later).isEmpty)
        #expect(session.rebalances == 1)
    }

    /// Opens a 10 NMR short (filled at 8) and returns the session with the rebalance still under
    /// way (its collateral not yet posted).
    static func halfwayThroughOpening() -> StakeHedgeSession {
        var session = StakeHedgeSession(settings: settings())
        let order = sends(session.apply(.observed(look(0, stake: "10"))))[0]
        _ = session.apply(.orderSent(order))
        _ = session.apply(
            .submitted(
                clientID: order.clientID,
                .accepted(
                    VenueOrder(
                        clientID: order.clientID, venueOrderID: "1", kind: .market, side: .short, status: .filled, quantity: Quantity(10),
                        filledQuantity: Quantity(10), averagePrice: Price(8), triggerPrice: nil, reduceOnly: false,
                        updatedAt: Timestamp(milliseconds: 0))), at: look(1, stake: nil).time))
        return session
    }

    static func notes(_ actions: [HedgeAction]) -> [HedgeNote] {
        actions.compactMap { if case .note(let note) = $0 { note } else { nil } }
    }

    @Test func aRestartPlansTheRebalanceUnderWayAgain() {
        var session = Self.halfwayThroughOpening()
        #expect(session.target?.short == Quantity(10))
        _ = session.apply(.restarted(at: Self.look(2, stake: nil).time))
        // The stake moved while no process ran: the short goes to the new stake, not the old.
        let actions = session.apply(.observed(Self.look(3, stake: "23.51", position: "-10", margin: "26.67")))
        #expect(Self.notes(actions).contains { $0.kind == .rebalance && $0.text.contains("re-planned (after a restart") })
        #expect(Self.sends(actions).map(\.quantity) == [Quantity("13.51")!])
        #expect(session.target?.short == Quantity("23.51")!)
        // The price moved too: the collateral is planned at the price seen after the restart.
        var moved = Self.halfwayThroughOpening()
        _ = moved.apply(.restarted(at: Self.look(2, stake: nil).time))
        let margin = Self.moves(moved.apply(.observed(Self.look(3, stake: "10", price: "9", position: "-10", margin: "26.67"))))
        // k·q·P = 2.7332 × 10 × 9 = 245.988, less the 26.67 posted.
        #expect(margin.first?.0 == Notional("219.318")!)
    }

    @Test func aStakeThatDriftsDuringARebalanceReplansItAndASmallMoveDoesNot() {
        var session = Self.halfwayThroughOpening()
        let small = session.apply(.observed(Self.look(2, stake: "10.2", position: "-10", margin: "26.67")))
        #expect(!Self.notes(small).contains { $0.text.contains("re-planned") })
        #expect(Self.sends(small).isEmpty)
        #expect(Self.moves(small).first?.0 == Notional("191.986")!)

        var drifted = Self.halfwayThroughOpening()
        let large = drifted.apply(.observed(Self.look(2, stake: "12", position: "-10", margin: "26.67")))
        #expect(Self.notes(large).contains { $0.text.contains("the stake moved from 10 to 12 NMR during it") })
        #expect(Self.sends(large).map(\.quantity) == [Quantity(2)])
    }

    @Test func drift() {
        var session = StakeHedgeSession(settings: Self.settings())
        _ = session.apply(.observed(Self.look(0, stake: "10", position: "-10", margin: "218.656")))
        #expect(session.rebalances == 1)
        // 4.9 % of price: nothing; 5.1 %: a rebalance.
        #expect(session.apply(.observed(Self.look(1, stake: "10", price: "8.392", position: "-10", margin: "218.656"))).isEmpty)
        let moved = session.apply(.observed(Self.look(2, stake: "10", price: "8.408", position: "-10", margin: "218.656")))
        #expect(Self.moves(moved).first?.1 == true)
        // A stake 5.1 % above: a rebalance that sells the difference.
        var stake = StakeHedgeSession(settings: Self.settings())
        _ = stake.apply(.observed(Self.look(0, stake: "10", position: "-10", margin: "218.656")))
        #expect(
            Self.sends(stake.apply(.observed(Self.look(1, stake: "10.51", position: "-10", margin: "218.656")))).first?.quantity
                == Quantity("0.51")!)
    }

    @Test func crossMarginNeverMovesCollateral() {
        var session = StakeHedgeSession(settings: Self.settings(cross: true))
        let actions = session.apply(.observed(Self.look(0, stake: "10", position: "-10", margin: "1000")))
        #expect(Self.moves(actions).isEmpty)
        #expect(session.rebalances == 1)
    }

    @Test func hostileAnswersAreRefusedNotTrapped() {
        let hostile: [HedgeObservation] = [
            Self.look(0, stake: "10", price: "0.00000001", position: "-92233720368"),
            Self.look(0, stake: "10", price: "92233720368", position: "-10"),
            Self.look(0, stake: "92233720368", position: "-10"),
            Self.look(0, stake: "-1", position: "-10"),
            Self.look(0, stake: "10", position: "-10", margin: "-92233720368"),
            Self.look(0, stake: "10", price: "999999", position: "-99999999", margin: "1"),
            Self.look(0, stake: "10", position: "-10", margin: "200", liquidation: "92233720368"),
        ]
        for observation in hostile {
            var session = StakeHedgeSession(settings: Self.settings())
            let actions = session.apply(.observed(observation))
            #expect(actions.count == 1, "\(observation)")
            #expect(actions.allSatisfy { if case .note(let note) = $0 { note.kind == .unreadable } else { false } })
            #expect(session.last == nil)
        }
    }
}
