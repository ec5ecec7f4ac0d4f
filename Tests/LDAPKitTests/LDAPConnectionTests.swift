import Foundation
import LDAPKit
import RollcallTestSupport
import Testing

/// Staff and `pupils` generated pupils, as a school's directory holds them.
func schoolLDIF(pupils: Int) -> String {
    var ldif = """
        dn: ou=staff,dc=school,dc=test
        objectClass: organizationalUnit
        ou: staff

        dn: ou=pupils,dc=school,dc=test
        objectClass: organizationalUnit
        ou: pupils

        dn: uid=jsmith,ou=staff,dc=school,dc=test
        objectClass: inetOrgPerson
        uid: jsmith
        cn: Jane Smith
        sn: Smith
        givenName: Jane
        employeeNumber: S1001
        mail: jsmith@school.test
        userPassword: Tr1cky-Pass

        dn: uid=bjones,ou=staff,dc=school,dc=test
        objectClass: inetOrgPerson
        uid: bjones
        cn: Bob Jones
        sn: Jones
        employeeNumber: S1002
        userPassword: An0ther-Pass


        """
    for index in 0..<pupils {
        ldif += """
            dn: uid=pupil\(index),ou=pupils,dc=school,dc=test
            objectClass: inetOrgPerson
            uid: pupil\(index)
            cn: Pupil \(index)
            sn: Pupil
            employeeNumber: P\(10000 + index)


            """
    }
    return ldif
}

@Suite("LDAPKit against a real slapd", .serialized)
struct LDAPConnectionTests {
    @Test("simple bind as the admin, who-am-I, and a wrong password named with its DN")
    func bind() async throws {
        let server = try SlapdServer(ldif: schoolLDIF(pupils: 0))
        defer { server.stop() }
        let connection = try LDAPConnection(url: server.url)
        try await connection.simpleBind(dn: server.adminDN, password: SlapdServer.adminPassword)
        #expect(try await connection.whoAmI() == "dn:\(server.adminDN)")

        let other = try LDAPConnection(url: server.url)
        await #expect { try await other.simpleBind(dn: server.adminDN, password: "wrong") } throws: { error in
            guard let error = error as? LDAPError else { return false }
            return error.code == 49 && error.description.hasPrefix("invalidCredentials (49) binding as cn=admin,dc=school,dc=test")
                && !error.description.contains("wrong")
        }
    }

    @Test("SASL EXTERNAL over ldapi maps root to its peer-credential identity")
    func externalBind() async throws {
        let server = try SlapdServer(ldif: schoolLDIF(pupils: 0))
        defer { server.stop() }
        let connection = try LDAPConnection(url: server.ldapiURL)
        try await connection.externalBind()
        #expect(try await connection.whoAmI() == "dn:gidNumber=0+uidNumber=0,cn=peercred,cn=external,cn=auth")
    }

    @Test("a paged search returns every entry even past the server's size limit of 100")
    func pagedSearch() async throws {
        let server = try SlapdServer(ldif: schoolLDIF(pupils: 730))
        defer { server.stop() }
        let connection = try LDAPConnection(url: server.url)
        try await connection.simpleBind(dn: "uid=jsmith,ou=staff,dc=school,dc=test", password: "Tr1cky-Pass")
        var uids = Set<String>()
        for try await entry in connection.search(base: "ou=pupils,dc=school,dc=test", filter: "(objectClass=inetOrgPerson)",
                                                 attributes: ["uid", "employeeNumber"], pageSize: 50) {
            uids.insert(try #require(entry.string("uid")))
            #expect(entry.string("EMPLOYEENUMBER")?.hasPrefix("P") == true)  // attribute names ignore case
        }
        #expect(uids.count == 730)
    }

    @Test("a search left half-way (its next page already requested) does not disturb the next search on the connection")
    func abandonedPagedSearch() async throws {
        let server = try SlapdServer(ldif: schoolLDIF(pupils: 120))
        defer { server.stop() }
        let connection = try LDAPConnection(url: server.url)
        try await connection.simpleBind(dn: server.adminDN, password: SlapdServer.adminPassword)
        var seen = 0
        for try await _ in connection.search(base: "ou=pupils,dc=school,dc=test", filter: "(objectClass=inetOrgPerson)", attributes: ["uid"], pageSize: 10) {
            seen += 1
            if seen == 15 { break }  // page 2 is being read, page 3 is with the server
        }
        var uids = Set<String>()
        for try await entry in connection.search(base: "ou=pupils,dc=school,dc=test", filter: "(objectClass=inetOrgPerson)", attributes: ["uid"], pageSize: 10) {
            uids.insert(try #require(entry.string("uid")))
        }
        #expect(uids.count == 120)
        #expect(try await connection.entry(dn: "ou=pupils,dc=school,dc=test", attributes: ["ou"])?.string("ou") == "pupils")
    }

    @Test("operational attributes come back when asked for by name")
    func operationalAttributes() async throws {
        let server = try SlapdServer(ldif: schoolLDIF(pupils: 0))
        defer { server.stop() }
        let connection = try LDAPConnection(url: server.url)
        try await connection.simpleBind(dn: server.adminDN, password: SlapdServer.adminPassword)
        let entries = try await connection.searchAll(base: "uid=jsmith,ou=staff,dc=school,dc=test", scope: .base,
                                                     attributes: ["uid", "createTimestamp", "entryUUID"])
        let entry = try #require(entries.first)
        #expect(entry.dn == "uid=jsmith,ou=staff,dc=school,dc=test")
        #expect(entry.string("createTimestamp")?.hasSuffix("Z") == true)
        #expect(entry.string("entryUUID")?.count == 36)
    }

    @Test("modify, add, rename and delete, each failure naming its DN")
    func changes() async throws {
        let server = try SlapdServer(ldif: schoolLDIF(pupils: 0))
        defer { server.stop() }
        let connection = try LDAPConnection(url: server.url)
        try await connection.simpleBind(dn: server.adminDN, password: SlapdServer.adminPassword)
        try await connection.add(dn: "ou=leavers,dc=school,dc=test", attributes: [("objectClass", ["organizationalUnit"]), ("ou", ["leavers"])])
        try await connection.modify(dn: "uid=bjones,ou=staff,dc=school,dc=test", [.replace("mail", ["bjones@school.test"]), .add("givenName", ["Bob"])])
        try await connection.rename(dn: "uid=bjones,ou=staff,dc=school,dc=test", newRDN: "uid=bjones", newParent: "ou=leavers,dc=school,dc=test")
        let moved = try await connection.searchAll(base: "ou=leavers,dc=school,dc=test", scope: .oneLevel)
        #expect(moved.map(\.dn) == ["uid=bjones,ou=leavers,dc=school,dc=test"])
        #expect(moved.first?.string("mail") == "bjones@school.test")
        try await connection.modify(dn: "uid=bjones,ou=leavers,dc=school,dc=test", [.delete("givenName")])
        try await connection.delete(dn: "uid=bjones,ou=leavers,dc=school,dc=test")
        await #expect { try await connection.delete(dn: "uid=nobody,ou=staff,dc=school,dc=test") } throws: { error in
            (error as? LDAPError)?.description.hasPrefix("noSuchObject (32) deleting uid=nobody,ou=staff,dc=school,dc=test") == true
        }
        await #expect { try await connection.modify(dn: "uid=jsmith,ou=staff,dc=school,dc=test", [.add("noSuchAttr", ["x"])]) } throws: { error in
            (error as? LDAPError)?.code == 17  // undefinedAttributeType
        }
        await #expect {
            for try await _ in connection.search(base: "ou=nowhere,dc=school,dc=test") {}
        } throws: { error in
            (error as? LDAPError)?.description.contains("noSuchObject (32) searching ou=nowhere,dc=school,dc=test") == true
        }
    }

    @Test("ppolicy: a reset password binds with 'must change', an administrative lock refuses the bind")
    func passwordPolicy() async throws {
        let server = try SlapdServer(ldif: schoolLDIF(pupils: 0))
        defer { server.stop() }
        let admin = try LDAPConnection(url: server.url)
        try await admin.simpleBind(dn: server.adminDN, password: SlapdServer.adminPassword)
        try await admin.modify(dn: "uid=jsmith,ou=staff,dc=school,dc=test", [.replace("pwdReset", ["TRUE"])])
        let user = try LDAPConnection(url: server.url)
        let policy = try await user.simpleBind(dn: "uid=jsmith,ou=staff,dc=school,dc=test", password: "Tr1cky-Pass")
        #expect(policy.mustChangePassword)

        try await admin.modify(dn: "uid=bjones,ou=staff,dc=school,dc=test", [.replace("pwdAccountLockedTime", ["000001010000Z"])])
        let locked = try LDAPConnection(url: server.url)
        await #expect { try await locked.simpleBind(dn: "uid=bjones,ou=staff,dc=school,dc=test", password: "An0ther-Pass") } throws: { error in
            guard let error = error as? LDAPError else { return false }
            return error.code == 49 && error.description.contains("account locked")
        }
    }

    @Test("an unreachable server and a malformed URL give clear errors")
    func connectionErrors() async throws {
        let port = try freePort()
        let connection = try LDAPConnection(url: "ldap://127.0.0.1:\(port)", options: LDAPConnectionOptions(timeoutSeconds: 2))
        await #expect { try await connection.simpleBind(dn: "cn=x", password: "y") } throws: { error in
            guard let error = error as? LDAPError else { return false }
            return error.code == -1 && error.description.contains("Is the directory server running")
        }
        #expect(throws: LDAPError.self) { try LDAPConnection(url: "http://127.0.0.1") }
    }
}

/// A throwaway CA and a server certificate for 127.0.0.1, made with openssl for one test.
struct TestCertificates {
    let directory: URL
    var ca: String { directory.appendingPathComponent("ca.pem").path }
    var otherCA: String { directory.appendingPathComponent("other-ca.pem").path }
    var certificate: String { directory.appendingPathComponent("server.pem").path }
    var key: String { directory.appendingPathComponent("server.key").path }

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("rollcall-pki-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let script = """
            set -e
            cd '\(directory.path)'
            openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 1 -subj "/CN=Rollcall Test CA" \\
              -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
            openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj "/CN=127.0.0.1"
            printf 'basicConstraints=critical,CA:FALSE\\nkeyUsage=critical,digitalSignature,keyEncipherment\\nextendedKeyUsage=serverAuth\\nsubjectAltName=IP:127.0.0.1\\n' > server.ext
            openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 -extfile server.ext -out server.pem
            openssl req -x509 -newkey rsa:2048 -nodes -keyout other-ca.key -out other-ca.pem -days 1 -subj "/CN=Someone Else's CA"
            """
        let result = try runProgram("/bin/bash", ["-c", script])
        guard result.status == 0 else { throw HarnessError(description: "openssl failed: \(result.output)") }
    }

    func remove() { try? FileManager.default.removeItem(at: directory) }
}

@Suite("LDAPKit over TLS against a real slapd", .serialized)
struct LDAPTLSTests {
    @Test("StartTLS and ldaps with the school's CA file; the wrong CA and a server without TLS fail with what to check")
    func tls() async throws {
        let pki = try TestCertificates()
        defer { pki.remove() }
        var options = SlapdServer.Options()
        options.tls = (pki.certificate, pki.key)
        let server = try SlapdServer(ldif: schoolLDIF(pupils: 400), options: options)
        defer { server.stop() }

        let startTLS = try LDAPConnection(url: server.url, options: LDAPConnectionOptions(security: .startTLS, caFile: pki.ca))
        try await startTLS.simpleBind(dn: server.adminDN, password: SlapdServer.adminPassword)
        #expect(try await startTLS.whoAmI() == "dn:\(server.adminDN)")
        let ldaps = try LDAPConnection(url: "ldaps://127.0.0.1:\(try #require(server.ldapsPort))", options: LDAPConnectionOptions(caFile: pki.ca))
        try await ldaps.simpleBind(dn: server.adminDN, password: SlapdServer.adminPassword)
        // Paged searches through TLS, with reads buffered below the TLS layer: every entry of every page arrives.
        for connection in [startTLS, ldaps] {
            var uids = Set<String>()
            for try await entry in connection.search(base: "ou=pupils,dc=school,dc=test", filter: "(objectClass=inetOrgPerson)",
                                                     attributes: ["uid", "cn", "employeeNumber"], pageSize: 64) {
                uids.insert(try #require(entry.string("uid")))
            }
            #expect(uids.count == 400)
        }

        #expect { try LDAPConnection(url: server.url, options: LDAPConnectionOptions(security: .startTLS, caFile: pki.otherCA)) } throws: { error in
            guard let error = error as? LDAPError else { return false }
            return error.code == -11 && error.description.hasPrefix("connectError (-11) starting TLS with \(server.url)")
                && error.description.contains("check the CA file")
        }
        let untrusted = try LDAPConnection(url: "ldaps://127.0.0.1:\(try #require(server.ldapsPort))", options: LDAPConnectionOptions(caFile: pki.otherCA))
        await #expect(throws: LDAPError.self) { try await untrusted.simpleBind(dn: server.adminDN, password: SlapdServer.adminPassword) }

        let plain = try SlapdServer(ldif: schoolLDIF(pupils: 0))
        defer { plain.stop() }
        #expect { try LDAPConnection(url: plain.url, options: LDAPConnectionOptions(security: .startTLS, caFile: pki.ca)) } throws: { error in
            (error as? LDAPError)?.description.contains("protocolError (2) starting TLS with \(plain.url): unsupported extended operation") == true
        }
    }
}
