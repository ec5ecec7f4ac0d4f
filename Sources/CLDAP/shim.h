#ifndef CLDAP_SHIM_H
#define CLDAP_SHIM_H
#include <sys/time.h>
#include <lber.h>
#include <ldap.h>

// Macros over addresses and casts that Swift cannot import.
static inline void *cldap_opt_on(void) { return LDAP_OPT_ON; }
static inline void *cldap_opt_off(void) { return LDAP_OPT_OFF; }

// SASL EXTERNAL needs no prompts; libldap still wants an interaction callback.
static int cldap_sasl_no_interaction(LDAP *ld, unsigned flags, void *defaults, void *interact) {
    (void)ld; (void)flags; (void)defaults; (void)interact;
    return LDAP_SUCCESS;
}

static inline int cldap_sasl_external_bind(LDAP *ld) {
    return ldap_sasl_interactive_bind_s(ld, NULL, "EXTERNAL", NULL, NULL, LDAP_SASL_QUIET, cldap_sasl_no_interaction, NULL);
}

// Buffers the connection's reads: libldap otherwise reads each message's header and body with separate read(2)s,
// after a poll(2), three system calls per entry of a 50,000-entry search. The IO table is libldap's own constant.
static inline int cldap_read_ahead(Sockbuf *sb) {
    return ber_sockbuf_add_io(sb, &ber_sockbuf_io_readahead, LBER_SBIOD_LEVEL_PROVIDER, NULL);
}
#endif
