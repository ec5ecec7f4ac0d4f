#!/usr/bin/env bash
# Builds a throwaway OpenLDAP directory the way Rollcall's tests, demo and benchmark need it: cn=config made offline
# with slapadd (back_mdb, the ppolicy overlay with the school's default policy, last-bind tracking), then the given
# LDIF loaded. Optionally starts slapd in the background on loopback.
#
#   scripts/slapd-school.sh --dir DIR [--suffix dc=school,dc=test] [--data FILE]... [--prtotal N|unlimited]
#                           [--lastbind core|overlay|off] [--syncprov] [--tls CERT KEY] [--start PORT]
#
# Data files may use @SUFFIX@ and @DAYS_AGO_N@ (an LDAP GeneralizedTime N days before now), so ages in the sample
# school stay the same whenever it is loaded. With --start, slapd runs in the background until `kill $(cat DIR/slapd.pid)`;
# the admin is cn=admin,SUFFIX with the password in DIR/admin.secret.
set -euo pipefail

dir="" suffix="dc=school,dc=test" prtotal="unlimited" lastbind="core" start="" tls_cert="" tls_key="" syncprov=""
data=()
while (($#)); do
    case "$1" in
        --dir) dir="$2"; shift 2 ;;
        --suffix) suffix="$2"; shift 2 ;;
        --data) data+=("$2"); shift 2 ;;
        --prtotal) prtotal="$2"; shift 2 ;;
        --lastbind) lastbind="$2"; shift 2 ;;
        --tls) tls_cert="$2"; tls_key="$3"; shift 3 ;;
        --syncprov) syncprov=yes; shift ;;
        --start) start="$2"; shift 2 ;;
        *) echo "slapd-school.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
[ -n "$dir" ] || { echo "slapd-school.sh: --dir is required" >&2; exit 2; }
case "$lastbind" in core|overlay|off) ;; *) echo "slapd-school.sh: --lastbind must be core, overlay or off" >&2; exit 2 ;; esac

admin_password="Admin-Secret-1"
mkdir -p "$dir/slapd.d" "$dir/data"
printf '%s' "$admin_password" > "$dir/admin.secret"
chmod 600 "$dir/admin.secret"
top="${suffix%%,*}"; top="${top#dc=}"

modules="olcModuleLoad: back_mdb
olcModuleLoad: ppolicy"
[ "$lastbind" = overlay ] && modules="$modules
olcModuleLoad: lastbind"
[ -n "$syncprov" ] && modules="$modules
olcModuleLoad: syncprov"
core_lastbind=""; [ "$lastbind" = core ] && core_lastbind="olcLastBind: TRUE"
tls=""
if [ -n "$tls_cert" ]; then
    tls="olcTLSCertificateFile: $tls_cert
olcTLSCertificateKeyFile: $tls_key"
fi

cat > "$dir/config.ldif" <<CONFIG
dn: cn=config
objectClass: olcGlobal
cn: config
olcPidFile: $dir/slapd.pid
$tls

dn: cn=module{0},cn=config
objectClass: olcModuleList
cn: module{0}
olcModulePath: /usr/lib/ldap
$modules

dn: cn=schema,cn=config
objectClass: olcSchemaConfig
cn: schema

include: file:///etc/ldap/schema/core.ldif

include: file:///etc/ldap/schema/cosine.ldif

include: file:///etc/ldap/schema/nis.ldif

include: file:///etc/ldap/schema/inetorgperson.ldif

dn: olcDatabase={-1}frontend,cn=config
objectClass: olcDatabaseConfig
objectClass: olcFrontendConfig
olcDatabase: {-1}frontend
olcSizeLimit: size.soft=100 size.hard=100 size.prtotal=$prtotal

dn: olcDatabase={0}config,cn=config
objectClass: olcDatabaseConfig
olcDatabase: {0}config
olcAccess: to * by dn.exact=gidNumber=0+uidNumber=0,cn=peercred,cn=external,cn=auth manage by * none

dn: olcDatabase={1}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {1}mdb
olcSuffix: $suffix
olcRootDN: cn=admin,$suffix
olcRootPW: $admin_password
olcDbDirectory: $dir/data
olcDbMaxSize: 1073741824
$core_lastbind
olcAccess: to attrs=userPassword by self write by anonymous auth by * none
olcAccess: to * by dn.exact=gidNumber=0+uidNumber=0,cn=peercred,cn=external,cn=auth manage by self read by users read by * none

dn: olcOverlay={0}ppolicy,olcDatabase={1}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcPPolicyConfig
olcOverlay: {0}ppolicy
olcPPolicyDefault: cn=default,ou=policies,$suffix
olcPPolicyHashCleartext: TRUE
olcPPolicyUseLockout: TRUE
CONFIG
if [ "$lastbind" = overlay ]; then
    cat >> "$dir/config.ldif" <<OVERLAY

dn: olcOverlay={1}lastbind,olcDatabase={1}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcLastBindConfig
olcOverlay: {1}lastbind
olcLastBindPrecision: 0
OVERLAY
fi

if [ -n "$syncprov" ]; then
    # syncprov keeps the suffix's contextCSN, which moves on every write: Rollcall's sync skips an unchanged directory.
    cat >> "$dir/config.ldif" <<SYNCPROV

dn: olcOverlay={2}syncprov,olcDatabase={1}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcSyncProvConfig
olcOverlay: {2}syncprov
SYNCPROV
fi

# The suffix and the school's password policy (six months, at least 6 characters, checked, change after reset).
{
    cat <<BASE
dn: $suffix
objectClass: dcObject
objectClass: organization
o: School
dc: $top

dn: ou=policies,$suffix
objectClass: organizationalUnit
ou: policies

dn: cn=default,ou=policies,$suffix
objectClass: device
objectClass: pwdPolicy
cn: default
pwdAttribute: userPassword
pwdMaxAge: 15552000
pwdMinLength: 6
pwdCheckQuality: 2
pwdMustChange: TRUE
pwdLockout: TRUE
pwdMaxFailure: 10

BASE
    for file in "${data[@]}"; do cat "$file"; echo; done
} > "$dir/school.ldif.in"

# Render @SUFFIX@ and @DAYS_AGO_N@.
substitutions=(-e "s/@SUFFIX@/$suffix/g")
for token in $(grep -o '@DAYS_AGO_[0-9]*@' "$dir/school.ldif.in" | sort -u); do
    days="${token#@DAYS_AGO_}"; days="${days%@}"
    substitutions+=(-e "s/$token/$(date -u -d "$days days ago" +%Y%m%d%H%M%SZ)/g")
done
sed "${substitutions[@]}" "$dir/school.ldif.in" > "$dir/school.ldif"

slapadd -q -n0 -F "$dir/slapd.d" -l "$dir/config.ldif"
slapadd -q -n1 -F "$dir/slapd.d" -l "$dir/school.ldif"

if [ -n "$start" ]; then
    ldapi="ldapi://$(printf '%s' "$dir/ldapi" | sed 's#/#%2F#g')"
    setsid slapd -d 0 -F "$dir/slapd.d" -h "ldap://127.0.0.1:$start/ $ldapi" </dev/null >"$dir/slapd.log" 2>&1 &
    for _ in $(seq 1 100); do
        ldapwhoami -x -H "ldap://127.0.0.1:$start" -D "cn=admin,$suffix" -w "$admin_password" >/dev/null 2>&1 && exit 0
        sleep 0.1
    done
    echo "slapd did not start; its log:" >&2
    cat "$dir/slapd.log" >&2
    exit 1
fi
