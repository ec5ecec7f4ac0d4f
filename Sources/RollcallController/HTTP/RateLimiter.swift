/// A token bucket per key (a device id, or an address for requests not yet authenticated).
///
/// Each key may send `perMinute` requests in a burst and then one every `60 / perMinute` seconds. An agent that
/// is told to wait gets a `Retry-After` and keeps its reports queued; a flood from one pupil's laptop costs the
/// controller a dictionary lookup per request, not a store write.
public actor RateLimiter {
    private struct Bucket {
        var tokens: Double
        var updated: ContinuousClock.Instant
    }

    private let perMinute: Double
    private let clock = ContinuousClock()
    private var buckets: [String: Bucket] = [:]

    public init(perMinute: Int) {
        self.perMinute = Double(perMinute)
    }

    /// nil if the request may go ahead; otherwise the whole seconds until it may.
    public func admit(_ key: String) -> Int? {
        let now = clock.now
        var bucket = buckets[key] ?? Bucket(tokens: perMinute, updated: now)
        let elapsed = bucket.updated.duration(to: now)
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        bucket.tokens = min(perMinute, bucket.tokens + seconds * perMinute / 60)
        bucket.updated = now
        defer { buckets[key] = bucket }
        if buckets.count > 50_000 { forgetFullBuckets(now: now) }
        guard bucket.tokens >= 1 else {
            return max(1, Int(((1 - bucket.tokens) * 60 / perMinute).rounded(.up)))
        }
        bucket.tokens -= 1
        return nil
    }

    /// A bucket that has refilled is the same as no bucket; dropping those keeps memory bounded under a scan.
    private func forgetFullBuckets(now: ContinuousClock.Instant) {
        let refill = Duration.seconds(60)
        buckets = buckets.filter { $0.value.updated.duration(to: now) < refill }
    }
}
