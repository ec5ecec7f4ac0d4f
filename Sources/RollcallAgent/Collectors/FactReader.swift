import RollcallProtocol

/// Reads facts under a root and keeps a list of the ones it could not read, with why.
///
/// Collectors ask it for values; a failure is recorded as an ``AbsentFact`` instead of thrown, so one unreadable
/// file never costs the rest of the snapshot.
final class FactReader {
    let root: FileSystemRoot
    private(set) var absent: [AbsentFact] = []

    init(root: FileSystemRoot) {
        self.root = root
    }

    /// A one-line value (sysfs attribute, hostname), or nil with the reason recorded under `field`.
    func value(_ field: String, at path: String, recordMissing: Bool = true) -> String? {
        switch root.readValue(path) {
        case .success(let value):
            return value
        case .failure(let failure):
            if recordMissing || !failure.isMissing { note(field, path, failure.reason) }
            return nil
        }
    }

    func text(_ field: String, at path: String, recordMissing: Bool = true) -> String? {
        switch root.readText(path) {
        case .success(let text):
            return text
        case .failure(let failure):
            if recordMissing || !failure.isMissing { note(field, path, failure.reason) }
            return nil
        }
    }

    func note(_ field: String, _ path: String, _ reason: String) {
        absent.append(AbsentFact(field: field, path: path, reason: reason))
    }
}
