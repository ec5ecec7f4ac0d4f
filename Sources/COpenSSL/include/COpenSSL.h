#ifndef ROLLCALL_COPENSSL_H
#define ROLLCALL_COPENSSL_H

/*
 * Debian's OpenSSL (libssl.so.3 and the libcrypto.so.3 it needs), loaded with dlopen the first time the agent needs
 * TLS, Ed25519 or SHA-256, never linked: as DT_NEEDED libraries they cost every agent process about 1.8 MB of resident
 * memory at start, also `rollcall-agent inventory` and `--version`, which never use them.
 *
 * The OpenSSL headers (from libssl-dev) give the types and constants only. Every OpenSSL function the agent calls is
 * an entry of COpenSSLFunctions, filled by copenssl_load with dlsym; nothing in the agent refers to an OpenSSL symbol
 * directly, so a direct call (SSL_new rather than functions.SSL_new) fails to link instead of quietly linking libssl.
 */

#include <stddef.h>
#include <stdint.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <openssl/evp.h>

/* What copenssl_load opens. libssl's own DT_NEEDED brings libcrypto, and dlsym on libssl's handle finds both. */
#define COPENSSL_LIBRARY "libssl.so.3"

/* Every OpenSSL function the agent calls, by its OpenSSL name: in Swift (TLSSession, SigningKey) and in COpenSSL.c. */
#define COPENSSL_FUNCTIONS(X) \
    /* libssl: contexts and connections */ \
    X(TLS_client_method) X(SSL_CTX_new) X(SSL_CTX_free) X(SSL_CTX_ctrl) X(SSL_CTX_set_verify) \
    X(SSL_CTX_load_verify_locations) X(SSL_CTX_set_default_verify_paths) \
    X(SSL_new) X(SSL_free) X(SSL_ctrl) X(SSL_set_verify) X(SSL_get0_param) X(SSL_set_hostflags) X(SSL_set1_host) \
    X(SSL_set_bio) X(SSL_set_options) X(SSL_connect) X(SSL_write_ex) X(SSL_read_ex) X(SSL_get_error) X(SSL_shutdown) \
    X(SSL_get_verify_result) X(SSL_get1_peer_certificate) \
    /* libcrypto: certificates, errors */ \
    X(X509_VERIFY_PARAM_set1_ip_asc) X(X509_verify_cert_error_string) X(X509_free) X(i2d_X509) X(CRYPTO_memcmp) \
    X(ERR_get_error) X(ERR_error_string_n) X(ERR_clear_error) \
    /* libcrypto: BIOs (the MSG_NOSIGNAL socket BIO below) */ \
    X(BIO_new) X(BIO_ctrl) X(BIO_int_ctrl) X(BIO_set_flags) X(BIO_clear_flags) X(BIO_sock_should_retry) X(BIO_s_socket) \
    X(BIO_meth_new) X(BIO_meth_free) X(BIO_meth_set_write) X(BIO_meth_set_read) X(BIO_meth_set_puts) \
    X(BIO_meth_set_ctrl) X(BIO_meth_set_create) X(BIO_meth_set_destroy) X(BIO_meth_get_read) X(BIO_meth_get_puts) \
    X(BIO_meth_get_ctrl) X(BIO_meth_get_create) X(BIO_meth_get_destroy) \
    /* libcrypto: Ed25519 and SHA-256 (SigningKey) */ \
    X(EVP_PKEY_CTX_new_id) X(EVP_PKEY_CTX_free) X(EVP_PKEY_keygen_init) X(EVP_PKEY_keygen) \
    X(EVP_PKEY_new_raw_private_key) X(EVP_PKEY_free) X(EVP_PKEY_get_raw_private_key) X(EVP_PKEY_get_raw_public_key) \
    X(EVP_MD_CTX_new) X(EVP_MD_CTX_free) X(EVP_DigestSignInit) X(EVP_DigestSign) X(EVP_Digest) X(EVP_sha256)

#pragma clang assume_nonnull begin

/*
 * One pointer per OpenSSL function, each with exactly the type OpenSSL's header declares (so Swift sees the same
 * signatures as before, and a header/library mismatch is a compile error here, not a crash). Never NULL once
 * copenssl_load has returned the table: a missing symbol fails the whole load.
 */
typedef struct COpenSSLFunctions {
#define COPENSSL_FIELD(name) __typeof__(name) *_Nonnull name;
    COPENSSL_FUNCTIONS(COPENSSL_FIELD)
#undef COPENSSL_FIELD
} COpenSSLFunctions;

/*
 * Loads libssl.so.3 (RTLD_NOW | RTLD_LOCAL) and looks up every entry, the first time it is called in the process
 * (pthread_once, so any number of threads may call it at once); later calls return the same answer without loading
 * again. The table, or NULL when the library or one of its functions is missing: copenssl_load_error then says why.
 * The library stays loaded for the life of the process.
 */
const COpenSSLFunctions *_Nullable copenssl_load(void);

/* Why copenssl_load returned NULL (dlerror's text); "" before the first load and after a successful one. */
const char *copenssl_load_error(void);

/*
 * Macros Swift cannot call, over the loaded table. Call them only after copenssl_load returned the table.
 */
long copenssl_set_tlsext_host_name(SSL *ssl, const char *name);
int copenssl_set_min_proto_version(SSL_CTX *ctx, int version);
long copenssl_bio_set_fd(BIO *bio, int fd, int closeFlag);

/* SSL_OP_IGNORE_UNEXPECTED_EOF is SSL_OP_BIT(7), a cast expression Swift does not import. A constant: no call. */
static inline uint64_t copenssl_op_ignore_unexpected_eof(void) {
    return SSL_OP_IGNORE_UNEXPECTED_EOF;
}

/*
 * A BIO method that is OpenSSL's socket BIO except that it writes with send(MSG_NOSIGNAL) (see COpenSSL.c for why).
 * The caller owns it: BIO_meth_free it after every BIO made from it is freed. NULL when OpenSSL is out of memory.
 * Call only after copenssl_load returned the table.
 */
BIO_METHOD *_Nullable copenssl_nosignal_socket_method(void);

#pragma clang assume_nonnull end

#endif
