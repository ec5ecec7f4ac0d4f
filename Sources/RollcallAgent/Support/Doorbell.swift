import Synchronization

/// Wakes the daemon's loop early: a USB event should not wait for the next inventory interval to be delivered.
public final class Doorbell: Sendable {
    private struct State {
        var rung = false
        var waiter: CheckedContinuation<Bool, Never>?
    }

    private let state = Mutex(State())

    public init() {}

    public func ring() {
        let waiter = state.withLock { state -> CheckedContinuation<Bool, Never>? in
            if let waiter = state.waiter {
                state.waiter = nil
                return waiter
            }
            state.rung = true
            return nil
        }
        waiter?.resume(returning: true)
    }

    /// Waits until `deadline` or a ring (now or since the last wait), whichever is first; true when rung.
    /// A ring that comes while nobody waits is kept for the next wait, so none is lost.
    @discardableResult
    public func wait(until deadline: ContinuousClock.Instant) async -> Bool {
        if state.withLock({ state in defer { state.rung = false }; return state.rung }) { return true }
        return await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                try? await Task.sleep(until: deadline, clock: .continuous)
                return false
            }
            group.addTask { await self.waitForRing() }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
    }

    /// True when rung; false when cancelled first.
    private func waitForRing() async -> Bool {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
                // Checked under the lock: a cancellation before this point has set the flag before its handler ran.
                let ready = state.withLock { state -> Bool? in
                    if state.rung {
                        state.rung = false
                        return true
                    }
                    if Task.isCancelled { return false }
                    state.waiter = continuation
                    return nil
                }
                if let ready { continuation.resume(returning: ready) }
            }
        } onCancel: {
            state.withLock { state in defer { state.waiter = nil }; return state.waiter }?.resume(returning: false)
        }
    }
}
