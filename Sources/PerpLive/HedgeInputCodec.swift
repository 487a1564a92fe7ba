import PerpExecution
import PerpModel

/// The stake hedge's inputs as stored rows (`live_input`: kind and a JSON payload with every
/// amount as its exact raw integer), and back. Decoding a row that is not ours fails with the
/// row's number: the hedge stays stopped rather than guess.
public enum HedgeInputCodec {
    typealias Codec = LiveInputCodec

    public static func encode(_ input: HedgeInput) -> (kind: String, payload: String) {
        switch input {
        case .observed(let o):
            return (
                "hedge_observed",
                Codec.object([
                    ("time", Codec.ms(o.time)), ("stake", Codec.raw(o.stake)), ("price", Codec.raw(o.price)),
                    ("position", Codec.raw(o.position)), ("isolated_margin", Codec.raw(o.isolatedMargin)),
                    ("available", Codec.raw(o.available)), ("liquidation", Codec.raw(o.liquidationPrice)),
                    ("funding_paid", Codec.raw(o.fundingPaid)),
                ])
            )
        case .unreadable(let reason, let at):
            return ("hedge_unreadable", Codec.object([("reason", .string(reason)), ("at", Codec.ms(at))]))
        case .orderSent(let intent):
            return ("hedge_order", Codec.object([("intent", intentJSON(intent))]))
        case .submitted(let id, let outcome, let at):
            return ("submitted", Codec.object([("client_id", .string(id)), ("outcome", Codec.submitJSON(outcome)), ("at", Codec.ms(at))]))
        case .lookedUp(let id, let outcome, let at):
            return ("looked_up", Codec.object([("client_id", .string(id)), ("outcome", Codec.lookupJSON(outcome)), ("at", Codec.ms(at))]))
        case .marginSent(let sequence, let amount, let add, let at):
            return (
                "hedge_margin",
                Codec.object([("sequence", .int(sequence)), ("amount", Codec.raw(amount)), ("add", .bool(add)), ("at", Codec.ms(at))])
            )
        case .marginAnswered(let sequence, let outcome, let at):
            let answer: JSONValue
            switch outcome {
            case .done: answer = .object([("done", .bool(true))])
            case .refused(let reason): answer = .object([("refused", .string(reason))])
            case .unknown(let reason): answer = .object([("unknown", .string(reason))])
            }
            return ("hedge_margin_answer", Codec.object([("sequence", .int(sequence)), ("outcome", answer), ("at", Codec.ms(at))]))
        case .stop(let close, let reason, let at):
            return ("stop", Codec.object([("flatten", .bool(close)), ("reason", .string(reason)), ("at", Codec.ms(at))]))
        case .restarted(let at):
            return ("restarted", Codec.object([("at", Codec.ms(at))]))
        case .resumed(let at):
            return ("hedge_resumed", Codec.object([("at", Codec.ms(at))]))
        }
    }

    static func intentJSON(_ intent: OrderIntent) -> JSONValue {
        .object([
            ("sequence", .int(intent.sequence)), ("client_id", .string(intent.clientID)), ("kind", .string(intent.kind.rawValue)),
            ("purpose", .string(intent.purpose.rawValue)), ("side", .string(intent.side.rawValue)),
            ("quantity", Codec.raw(intent.quantity)),
            ("trigger", Codec.raw(intent.triggerPrice)), ("reduce_only", .bool(intent.reduceOnly)), ("created", Codec.ms(intent.createdAt)),
        ])
    }

    public static func decode(_ row: (seq: Int64, kind: String, payload: String)) throws(LiveInputDecodingError) -> HedgeInput {
        let reader = LiveInputCodec.Reader(seq: row.seq)
        let json: JSONValue
        do { json = try JSONParser.parse(row.payload) } catch { throw reader.fail("payload is not JSON (\(error.description))") }
        switch row.kind {
        case "hedge_observed":
            return .observed(
                HedgeObservation(
                    time: try reader.time(json["time"], "time"),
                    stake: try reader.optionalInt(json["stake"], "stake").map { Quantity(raw: $0) },
                    price: Price(raw: try reader.int(json["price"], "price")),
                    position: Quantity(raw: try reader.int(json["position"], "position")),
                    isolatedMargin: Notional(raw: try reader.int(json["isolated_margin"], "isolated_margin")),
                    available: Notional(raw: try reader.int(json["available"], "available")),
                    liquidationPrice: try reader.optionalInt(json["liquidation"], "liquidation").map { Price(raw: $0) },
                    fundingPaid: try reader.optionalInt(json["funding_paid"], "funding_paid").map { Notional(raw: $0) }))
        case "hedge_unreadable":
            return .unreadable(reason: try reader.string(json["reason"], "reason"), at: try reader.time(json["at"], "at"))
        case "hedge_order":
            let value = json["intent"]
            guard let kind = OrderKind(rawValue: try reader.string(value?["kind"], "kind")),
                let purpose = OrderPurpose(rawValue: try reader.string(value?["purpose"], "purpose"))
            else { throw reader.fail("the order's kind or purpose is unknown") }
            return .orderSent(
                OrderIntent(
                    sequence: try reader.int(value?["sequence"], "sequence"), clientID: try reader.string(value?["client_id"], "client_id"),
                    kind: kind, purpose: purpose, side: try reader.side(value?["side"]),
                    quantity: Quantity(raw: try reader.int(value?["quantity"], "quantity")),
                    triggerPrice: try reader.optionalInt(value?["trigger"], "trigger").map { Price(raw: $0) },
                    reduceOnly: try reader.bool(value?["reduce_only"], "reduce_only"),
                    createdAt: try reader.time(value?["created"], "created")))
        case "submitted":
            return .submitted(
                clientID: try reader.string(json["client_id"], "client_id"), try reader.submit(json["outcome"]),
                at: try reader.time(json["at"], "at"))
        case "looked_up":
            return .lookedUp(
                clientID: try reader.string(json["client_id"], "client_id"), try reader.lookup(json["outcome"]),
                at: try reader.time(json["at"], "at"))
        case "hedge_margin":
            return .marginSent(
                sequence: try reader.int(json["sequence"], "sequence"), amount: Notional(raw: try reader.int(json["amount"], "amount")),
                add: try reader.bool(json["add"], "add"), at: try reader.time(json["at"], "at"))
        case "hedge_margin_answer":
            let outcome: MarginOutcome
            let value = json["outcome"]
            if value?["done"] != nil {
                outcome = .done
            } else if let reason = value?["refused"] {
                outcome = .refused(try reader.string(reason, "refused"))
            } else if let reason = value?["unknown"] {
                outcome = .unknown(try reader.string(reason, "unknown"))
            } else {
                throw reader.fail("margin outcome is none of done, refused, unknown")
            }
            return .marginAnswered(sequence: try reader.int(json["sequence"], "sequence"), outcome, at: try reader.time(json["at"], "at"))
        case "stop":
            return .stop(
                close: try reader.bool(json["flatten"], "flatten"), reason: try reader.string(json["reason"], "reason"),
                at: try reader.time(json["at"], "at"))
        case "restarted":
            return .restarted(at: try reader.time(json["at"], "at"))
        case "hedge_resumed":
            return .resumed(at: try reader.time(json["at"], "at"))
        default:
            throw reader.fail("unknown kind \(InputText.quoted(row.kind)) (not a hedge session's input)")
        }
    }
}
