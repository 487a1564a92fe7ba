import PerpEngine
import PerpExecution
import PerpModel
import PerpSimulation
import Testing

/// Random interleavings, losses and duplications of one scripted session's venue answers and
/// events (reliability-anchors.md §5, tests 1, 2, 11, 12): never two sends of one client id
/// except the documented single resend, and the position is the sum of the distinct fills.
@Suite struct EnginePropertyTests {
    typealias Pending = (Timestamp) -> ExecutionInput

    @Test(arguments: 0..<200)
    func randomSessionsNeverDoubleAnOrder(seed: Int) throws {
        var random = SplitMix64(seed: UInt64(seed) &* 0x9E37_79B9 &+ 7)
        func chance(_ percent: Int64) -> Bool { random.int(0...99) < percent }
        var engine = openEngine()
        var clock: Int64 = 1
        var pool: [Pending] = []
        var reached = Set<String>()
        var sends: [String: Int] = [:]
        var resentNotes = Set<String>()
        var delivered: [String: Quantity] = [:]  // trade id → signed quantity
        var kernel: [FillRecord] = []

        func events(for intent: OrderIntent) -> [VenueEvent] {
            let venueID = "v\(intent.sequence)"
            func trade(_ id: String, _ quantity: String, order: String, withClient: Bool) -> VenueEvent {
                .fill(
                    VenueFill(
                        tradeID: id, venueOrderID: order, clientID: withClient ? intent.clientID : nil, side: intent.side,
                        quantity: qty(quantity),
                        price: price("8.25"), fee: .zero, realizedPnL: .zero, time: time(clock)))
            }
            switch intent.purpose {
            case .entry:
                return [
                    .order(report(intent, .accepted, venueID: venueID)),
                    trade("e1", "3", order: venueID, withClient: chance(50)), trade("e2", "3", order: venueID, withClient: chance(50)),
                    trade("e3", "4", order: venueID, withClient: chance(50)),
                ]
            case .stop:
                return [
                    .order(report(intent, .accepted, venueID: venueID)),
                    .order(report(intent, .filled, filled: intent.quantity, venueID: venueID, triggered: "m\(intent.sequence)")),
                    trade("s1", "6", order: "m\(intent.sequence)", withClient: false),
                    trade("s2", "4", order: "m\(intent.sequence)", withClient: false),
                ]
            default:
                return [.order(report(intent, .accepted, venueID: venueID))]
            }
        }

        func process(_ actions: [ExecutionAction]) {
            for action in actions {
                switch action {
                case .send(let intent):
                    let id = intent.clientID
                    let isResend = sends[id, default: 0] > 0
                    sends[id, default: 0] += 1
                    let arrives = isResend || chance(80)
                    if arrives && !reached.contains(id) {
                        reached.insert(id)
                        for event in events(for: intent) {
                            pool.append { .venue(event, at: $0) }
                            if chance(30) { pool.append { .venue(event, at: $0) } }
                        }
                    }
                    let answerAccepted = arrives && chance(60)
                    pool.append { at in
                        .submitted(
                            clientID: id, answerAccepted ? .accepted(report(intent, .accepted)) : .unknown(reason: "timeout"), at: at)
                    }
                case .lookup(let id, _):
                    guard let intent = engine.order(clientID: id)?.intent else { continue }
                    let answer: LookupOutcome =
                        chance(20)
                        ? .unknown(reason: "HTTP 502")
                        : reached.contains(id)
                            ? .found(
                                report(
                                    intent, intent.purpose == .entry ? .filled : .accepted,
                                    filled: intent.purpose == .entry ? intent.quantity : .zero)) : .notFound
                    pool.append { .lookedUp(clientID: id, answer, at: $0) }
                case .cancel(let id, _):
                    let answer: CancelOutcome = reached.contains(id) && chance(70) ? .cancelled(nil) : .notOpen
                    pool.append { .cancelAnswered(clientID: id, answer, at: $0) }
                case .kernelFills(let fills):
                    kernel += fills
                case .note(let note):
                    if note.kind == .resent, let id = note.clientID { resentNotes.insert(id) }
                case .snapshotNeeded:
                    break
                }
            }
        }

        let entry = try #require(enter(&engine, seconds: clock))
        process([.send(entry)])
        var steps = 0
        while steps < 2000, !pool.isEmpty || !engine.unresolved.isEmpty {
            steps += 1
            clock += 1
            if !pool.isEmpty {
                let input = pool.remove(at: Int(random.int(0...Int64(pool.count - 1))))(time(clock))
                if case .venue(.fill(let fill), _) = input {
                    delivered[fill.tradeID] = fill.side == .long ? fill.quantity : -fill.quantity
                }
                process(engine.handle(input))
            }
            process(engine.handle(.tick(at: time(clock))))
        }
        #expect(steps < 2000, "seed \(seed) did not settle")
        for (id, count) in sends {
            #expect(count == 1 || (count == 2 && resentNotes.contains(id)), "seed \(seed): \(id) sent \(count) times")
        }
        let sum = delivered.values.reduce(Quantity.zero, +)
        #expect(engine.position == sum, "seed \(seed)")
        #expect(kernel.filter { $0.reason == .signal }.count <= 1)
        #expect(kernel.filter { $0.reason == .stop }.count <= 1)
        #expect(engine.orders.filter { $0.intent.purpose == .entry }.count == 1)
        #expect(engine.seenTradeIDs.count == delivered.count)
    }
}
