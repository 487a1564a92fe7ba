/// A small seeded pseudo-random generator: SplitMix64 (Steele, Lea and Flood 2014; Vigna's
/// `splitmix64.c`).
///
/// It is deterministic: the same seed gives the same sequence on every platform, so that a
/// simulation, a property test or a golden file reproduces from its seed. It is for simulations
/// and tests only; it is predictable from its output and must never be used for secrets, keys,
/// nonces or identifiers that have to be unguessable.
public struct SplitMix64: RandomNumberGenerator, Sendable, Hashable {
    /// The generator's whole state; the next output is derived from `state + 0x9E3779B97F4A7C15`.
    public private(set) var state: UInt64

    /// A generator whose sequence is fixed by `seed`.
    public init(seed: UInt64) { state = seed }

    /// The next 64 uniformly distributed bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in `0..<bound` (`bound > 0`), without modulo bias (rejection sampling).
    public mutating func next(below bound: UInt64) -> UInt64 {
        precondition(bound > 0, "empty range")
        let limit = UInt64.max - UInt64.max % bound
        while true {
            let value = next()
            if value < limit { return value % bound }
        }
    }

    /// An integer in `range` (inclusive), from one output reduced modulo the range's size.
    ///
    /// Unlike `next(below:)` this consumes exactly one output and keeps a modulo bias of under
    /// `size / 2⁶⁴` (negligible for the small ranges of tests); seeded test data depends on
    /// exactly this reduction, so it must not change.
    public mutating func int(_ range: ClosedRange<Int64>) -> Int64 {
        let size = UInt64(bitPattern: range.upperBound &- range.lowerBound) &+ 1
        let value = next()
        guard size != 0 else { return Int64(bitPattern: value) }  // the whole of Int64
        return range.lowerBound &+ Int64(bitPattern: value % size)
    }
}
