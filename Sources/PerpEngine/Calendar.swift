import PerpModel

/// The windows around calendar events in which the bot opens nothing: from `before` ahead of
/// each event of a chosen kind to `after` past it. Every event has the same margins, so the
/// windows sorted by start are sorted by end too, and one binary search answers "is this time
/// in a window".
public struct BlackoutWindows: Sendable, Equatable {
    public struct Window: Sendable, Equatable {
        public var start: Int64
        public var end: Int64
        public var event: CalendarEvent
    }

    public let kinds: Set<String>
    public let before: Int64
    public let after: Int64
    public private(set) var windows: [Window] = []

    public init(events: [CalendarEvent] = [], config: BotConfig.Calendar) {
        kinds = Set(config.blackoutKinds)
        before = config.blackoutBefore.milliseconds
        after = config.blackoutAfter.milliseconds
        for event in events { add(event) }
    }

    public var isEmpty: Bool { windows.isEmpty }

    /// Adds the window of `event` when its kind is chosen (an event already present is kept once).
    public mutating func add(_ event: CalendarEvent) {
        guard kinds.contains(event.kind) else { return }
        let time = event.time.milliseconds
        let (start, lowOverflow) = time.subtractingReportingOverflow(before)
        let (end, highOverflow) = time.addingReportingOverflow(after)
        let window = Window(start: lowOverflow ? .min : start, end: highOverflow ? .max : end, event: event)
        // Almost always at the end: events arrive in time order.
        var index = windows.count
        while index > 0, (windows[index - 1].start, windows[index - 1].event.kind) > (window.start, event.kind) { index -= 1 }
        if index > 0, windows[index - 1].start == window.start, windows[index - 1].event.kind == event.kind { return }
        windows.insert(window, at: index)
    }

    /// The window `time` falls in (the latest-starting one), if any.
    public func window(containing time: Int64) -> Window? {
        var low = 0
        var high = windows.count
        while low < high {
            let mid = (low + high) / 2
            if windows[mid].start <= time { low = mid + 1 } else { high = mid }
        }
        // Windows `0..<low` start at or before `time`. Every margin is the same, so none of them
        // ends later than the last: if it is over, all are.
        guard low > 0, windows[low - 1].end > time else { return nil }
        return windows[low - 1]
    }
}
