#include "COpenSSL.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

/* Written only by load_once, which pthread_once runs exactly once; read only after pthread_once has returned, which
 * orders those writes before the reads on every thread. */
static COpenSSLFunctions functions;
static int loaded;
static char failure[512];
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void load_once(void) {
    static const struct {
        const char *name;
        size_t offset;
    } entries[] = {
#define COPENSSL_ENTRY(name) {#name, offsetof(COpenSSLFunctions, name)},
        COPENSSL_FUNCTIONS(COPENSSL_ENTRY)
#undef COPENSSL_ENTRY
    };
    /* RTLD_LOCAL: OpenSSL's symbols stay out of the global scope, so nothing loaded later binds to them by accident.
     * RTLD_NOW: a libssl that cannot resolve its own symbols fails here, with dlerror's text, not later mid-handshake. */
    void *library = dlopen(COPENSSL_LIBRARY, RTLD_NOW | RTLD_LOCAL);
    if (library == NULL) {
        const char *why = dlerror();
        snprintf(failure, sizeof failure, "%s", why != NULL ? why : "dlopen failed");
        return;
    }
    for (size_t index = 0; index < sizeof entries / sizeof entries[0]; index++) {
        dlerror();
        void *symbol = dlsym(library, entries[index].name);
        if (symbol == NULL) {
            const char *why = dlerror();
            snprintf(failure, sizeof failure, "%s", why != NULL ? why : entries[index].name);
            dlclose(library);
            return;
        }
        /* POSIX (dlsym) guarantees a function's address survives the round trip through void *. */
        memcpy((char *)&functions + entries[index].offset, &symbol, sizeof symbol);
    }
    loaded = 1;
}

const COpenSSLFunctions *copenssl_load(void) {
    pthread_once(&once, load_once);
    return loaded ? &functions : NULL;
}

const char *copenssl_load_error(void) {
    return failure;
}

/*
 * The macros below expand to a call of one OpenSSL function by name. Each helper declares a local of that name holding
 * the loaded pointer, which the macro's expansion then calls: OpenSSL's own macro stays the definition of what is
 * passed, and no symbol of libssl or libcrypto is referenced.
 */

long copenssl_set_tlsext_host_name(SSL *ssl, const char *name) {
    __typeof__(SSL_ctrl) *SSL_ctrl = functions.SSL_ctrl;
    return SSL_set_tlsext_host_name(ssl, name);
}

int copenssl_set_min_proto_version(SSL_CTX *ctx, int version) {
    __typeof__(SSL_CTX_ctrl) *SSL_CTX_ctrl = functions.SSL_CTX_ctrl;
    return (int)SSL_CTX_set_min_proto_version(ctx, version);
}

long copenssl_bio_set_fd(BIO *bio, int fd, int closeFlag) {
    __typeof__(BIO_int_ctrl) *BIO_int_ctrl = functions.BIO_int_ctrl;
    return BIO_set_fd(bio, fd, closeFlag);
}

/*
 * OpenSSL 3.0's socket BIO writes with write(2). A write to a connection the controller has already closed then raises
 * SIGPIPE, whose default action kills the agent; the plain-HTTP path avoids that with send(MSG_NOSIGNAL), and the agent
 * does not ignore SIGPIPE process-wide. This write is the socket BIO's own (same retry flags, so SO_SNDTIMEO still
 * reaches the caller as SSL_ERROR_WANT_WRITE with errno EAGAIN) with MSG_NOSIGNAL added.
 */
static int nosignal_socket_write(BIO *bio, const char *data, int length) {
    __typeof__(BIO_ctrl) *BIO_ctrl = functions.BIO_ctrl;
    __typeof__(BIO_clear_flags) *BIO_clear_flags = functions.BIO_clear_flags;
    __typeof__(BIO_set_flags) *BIO_set_flags = functions.BIO_set_flags;
    int fd = -1;
    if (BIO_get_fd(bio, &fd) < 0 || fd < 0) {
        return -1;
    }
    errno = 0;
    ssize_t written = send(fd, data, (size_t)length, MSG_NOSIGNAL);
    BIO_clear_retry_flags(bio);
    if (written <= 0 && functions.BIO_sock_should_retry((int)written)) {
        BIO_set_retry_write(bio);
    }
    return (int)written;
}

/*
 * It keeps the socket BIO's type rather than taking one from BIO_get_new_index: that hands out at most 127 indexes per
 * process, and the agent makes one method per connection for its whole life. The BIO is a socket BIO in all but the
 * MSG_NOSIGNAL, so the type is honest.
 */
BIO_METHOD *copenssl_nosignal_socket_method(void) {
    const COpenSSLFunctions *f = &functions;
    const BIO_METHOD *plain = f->BIO_s_socket();
    BIO_METHOD *method = f->BIO_meth_new(BIO_TYPE_SOCKET, "socket (MSG_NOSIGNAL)");
    if (method == NULL) {
        return NULL;
    }
    if (!f->BIO_meth_set_write(method, nosignal_socket_write)
        || !f->BIO_meth_set_read(method, f->BIO_meth_get_read(plain))
        || !f->BIO_meth_set_puts(method, f->BIO_meth_get_puts(plain))
        || !f->BIO_meth_set_ctrl(method, f->BIO_meth_get_ctrl(plain))
        || !f->BIO_meth_set_create(method, f->BIO_meth_get_create(plain))
        || !f->BIO_meth_set_destroy(method, f->BIO_meth_get_destroy(plain))) {
        f->BIO_meth_free(method);
        return NULL;
    }
    return method;
}
