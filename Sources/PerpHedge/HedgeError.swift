import PerpModel

/// Inputs a hedge calculation cannot accept; each message says what to change.
public enum HedgeError: Error, Equatable, CustomStringConvertible {
    case invalid(String)

    public var description: String {
        switch self {
        case .invalid(let message): return message
        }
    }
}
