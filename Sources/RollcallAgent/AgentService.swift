#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
public import Logging
import RollcallProtocol

/// The daemon: take a snapshot every interval, queue it in the outbox, deliver the outbox with backoff.
///
/// Collection and delivery are independent: a dead controller delays delivery, never collection, and every
/// snapshot waits in the outbox (on disk) until it is acknowledged. Between deadlines the task sleeps, so an idle
/// agent uses no CPU.
public struct AgentService: Sendable {
    public let configuration: AgentConfiguration
    public let logger: Logger

    public init(configuration: AgentConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
    }

    public enum RunError: Error, CustomStringConvertible {
        case notConfigured(String)
        case unidentified
        case notDelivered(pending: Int, reason: String)

        public var description: String {
            switch self {
            case .notConfigured(let message): message
            case .unidentified:
                "Cannot identify this machine: /etc/machine-id is missing or malformed and the DMI product UUID is unreadable. Run systemd-machine-id-setup."
            case .notDelivered(let pending, let reason): "\(pending) report(s) still queued in the outbox: \(reason)"
            }
        }
    }

    /// Runs until the task is cancelled (SIGTERM). With `once`, takes one snapshot, delivers the outbox and
    /// returns; it throws if reports are still queued after `onceDeadlineSeconds`.
    public func run(once: Bool = false, onceDeadlineSeconds: Double = 30) async throws {
        try Self.makeDirectory(configuration.stateDirectory)
        let outbox = try Outbox(path: configuration.outboxPath, maxPendingSnapshots: configuration.maxPendingSnapshots)
        let enrolment = try AgentEnrolment(configuration: configuration).load()
        guard let enrolment else {
            if once { throw EnrolmentError.notEnrolled(stateDirectory: configuration.stateDirectory) }
            logger.warning("Not enrolled: snapshots are queued but not delivered until `rollcall-agent enrol` is run", metadata: [
                "agent.state_dir": "\(configuration.stateDirectory)",
            ])
            return try await collectOnly(outbox)
        }
        let controller = try ControllerURL(configuration.controllerURL ?? enrolment.record.controllerURL)
        guard controller.isTLS || configuration.allowPlainHTTP else { throw EnrolmentError.plainHTTPRefused(url: controller.description) }
        let trust = AgentEnrolment.trust(fingerprint: configuration.controllerFingerprint ?? enrolment.record.fingerprint, caFile: configuration.controllerCAFile)
        let uploader = Uploader(controller: controller, trust: trust, credentials: enrolment.credentials,
                                timeoutSeconds: configuration.uploadTimeoutSeconds, logger: logger)
        let backoff = Backoff(baseSeconds: min(5, Double(configuration.maxBackoffSeconds)), capSeconds: Double(configuration.maxBackoffSeconds))
        var random = SystemRandomNumberGenerator()
        let collector = InventoryCollector(root: FileSystemRoot(configuration.root))
        let policy = PolicyCache(stateDirectory: configuration.stateDirectory)
        let doorbell = Doorbell()
        let watcher = once ? nil : startUSBWatcher(collector: collector, policy: policy, doorbell: doorbell)
        defer { watcher?.stop() }
        let clock = ContinuousClock()
        var nextCollection = clock.now
        var nextDelivery = clock.now
        var nextPolicy = clock.now
        var failures = 0
        let startedAt = clock.now
        logger.info("Agent started", metadata: [
            "agent.controller": "\(controller)", "agent.device.id": "\(enrolment.credentials.deviceID)",
            "agent.interval": "\(configuration.intervalSeconds)",
            "agent.outbox": "\(configuration.outboxPath)",
        ])

        while !Task.isCancelled {
            if clock.now >= nextCollection {
                try snapshot(collector, into: outbox)
                nextCollection = clock.now.advanced(by: .seconds(configuration.intervalSeconds))
                nextDelivery = min(nextDelivery, clock.now)
            }
            // Time to ask for the policy: a delivery round (usually of an empty outbox) ends with the request.
            if clock.now >= nextPolicy, failures == 0 { nextDelivery = min(nextDelivery, clock.now) }
            if clock.now >= nextDelivery {
                switch try uploader.drain(outbox) {
                case .empty(let delivered):
                    if delivered > 0 || failures > 0 {
                        logger.info("Outbox delivered", metadata: ["agent.delivered": "\(delivered)"])
                    }
                    failures = 0
                    nextDelivery = nextCollection
                    if once {
                        writeMetrics(outbox)
                        return
                    }
                    if clock.now >= nextPolicy {
                        refreshPolicy(uploader, policy)
                        nextPolicy = clock.now.advanced(by: .seconds(configuration.policyRefreshSeconds))
                    }
                case .interrupted(let delivered, let reason):
                    failures += 1
                    let delay = backoff.delay(afterFailures: failures, using: &random)
                    nextDelivery = clock.now.advanced(by: .milliseconds(Int(delay * 1000)))
                    logger.warning("Controller unreachable; reports stay queued", metadata: [
                        "agent.delivered": "\(delivered)", "agent.reason": "\(reason)",
                        "agent.retry_in_s": "\(Int(delay))", "agent.failures": "\(failures)",
                    ])
                    if once, startedAt.duration(to: clock.now) > .seconds(onceDeadlineSeconds) || startedAt.duration(to: nextDelivery) > .seconds(onceDeadlineSeconds) {
                        writeMetrics(outbox)
                        throw RunError.notDelivered(pending: try outbox.status().pending, reason: reason)
                    }
                }
            }
            writeMetrics(outbox)
            let wake = min(nextCollection, nextDelivery, failures == 0 ? nextPolicy : nextDelivery)
            if wake > clock.now {
                if wake - clock.now >= .seconds(IdleMemory.minimumIdleSeconds) { IdleMemory.release() }
                // A USB event rings: deliver it now rather than at the next interval. Cancelled (SIGTERM): the
                // outbox is already durable, nothing to flush.
                if await doorbell.wait(until: wake), failures == 0 { nextDelivery = clock.now }
            }
        }
        logger.info("Agent stopping")
    }

    private func writeMetrics(_ outbox: Outbox) {
        guard let path = configuration.metricsTextfile else { return }
        do {
            try MetricsTextfile.write(try outbox.status(), to: path)
        } catch {
            logger.warning("Cannot write the metrics textfile \(path): \(error)")
        }
    }

    private func refreshPolicy(_ uploader: Uploader, _ policy: PolicyCache) {
        do {
            let fresh = try uploader.fetchPolicy()
            if try policy.update(fresh) {
                logger.notice("Policy updated", metadata: [
                    "agent.policy.revision": "\(fresh.revision)", "agent.policy.block_usb": "\(fresh.blockUnapprovedUSBStorage)",
                    "agent.policy.approved_media": "\(fresh.approvedMedia.count)",
                ])
            }
        } catch {
            logger.warning("\(error)")
        }
    }

    /// Starts watching USB storage when configured; a machine without udev (a container) keeps working without it.
    private func startUSBWatcher(collector: InventoryCollector, policy: PolicyCache, doorbell: Doorbell) -> USBStorageWatcher? {
        guard configuration.watchUSB else { return nil }
        do {
            let recorder = try USBEventRecorder(
                root: collector.root, machineID: collector.identity().machineID, outboxPath: configuration.outboxPath,
                policy: policy, doorbell: doorbell, logger: logger)
            let watcher = USBStorageWatcher(onArrival: recorder.arrived, onObservation: recorder.record)
            let present = try watcher.start()
            logger.info("USB watcher listening", metadata: ["agent.usb.present": "\(present.count)"])
            for observation in present {
                recorder.arrived(observation)
                recorder.record(observation)
            }
            return watcher
        } catch {
            logger.error("USB storage is not watched: \(error)")
            return nil
        }
    }

    /// Before enrolment the agent still records the machine on schedule, so nothing is missed in the meantime,
    /// and looks for an enrolment every minute: `rollcall-agent enrol` while the daemon runs starts delivery.
    private func collectOnly(_ outbox: Outbox) async throws {
        let collector = InventoryCollector(root: FileSystemRoot(configuration.root))
        let watcher = startUSBWatcher(collector: collector, policy: PolicyCache(stateDirectory: configuration.stateDirectory), doorbell: Doorbell())
        defer { watcher?.stop() }
        let clock = ContinuousClock()
        var nextCollection = clock.now
        while !Task.isCancelled {
            if clock.now >= nextCollection {
                try snapshot(collector, into: outbox)
                nextCollection = clock.now.advanced(by: .seconds(configuration.intervalSeconds))
            }
            do {
                try await Task.sleep(for: .seconds(min(60, configuration.intervalSeconds)))
            } catch {
                break
            }
            // The record alone: reading the key would load OpenSSL once a minute for nothing; run() loads it.
            if (try? AgentEnrolment(configuration: configuration).loadRecord()) != nil {
                logger.info("Enrolment found; delivering the outbox")
                watcher?.stop()
                return try await run()
            }
        }
        logger.info("Agent stopping")
    }

    private func snapshot(_ collector: InventoryCollector, into outbox: Outbox) throws {
        var report = collector.collect()
        guard !report.agent.machineID.isEmpty else { throw RunError.unidentified }
        if let status = try? outbox.status() {
            report.outbox = AgentOutboxSummary(pending: status.pending, oldestQueuedAt: status.oldestPendingQueuedAt)
        }
        let body = try RollcallJSON.encoder().encode(report)
        try outbox.enqueue(reportID: report.reportID, kind: "inventory", body: Array(body))
        logger.info("Snapshot queued", metadata: [
            "agent.report.id": "\(report.reportID)", "agent.packages": "\(report.software.packages.count)",
            "agent.absent": "\(report.absent.count)",
        ])
    }

    /// `mkdir -p` with mode 0700: the outbox holds the machine's inventory.
    static func makeDirectory(_ path: String) throws {
        var current = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            current += "/\(component)"
            if mkdir(current, 0o700) != 0, errno != EEXIST {
                throw RunError.notConfigured("Cannot create state directory \(current): \(String(cString: strerror(errno)))")
            }
        }
    }
}
