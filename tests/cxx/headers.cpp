// Every public header, compiled as C++17 (extern "C" guards, no C-only syntax), and a call
// linked against the C library: make test builds and runs it.
#include "sockit/bench.h"
#include "sockit/buf.h"
#include "sockit/clock.h"
#include "sockit/dgram.h"
#include "sockit/endpoint.h"
#include "sockit/engine.h"
#include "sockit/error.h"
#include "sockit/hist.h"
#include "sockit/loop.h"
#include "sockit/relay.h"
#include "sockit/server.h"
#include "sockit/shared.h"
#include "sockit/socket.h"
#include "sockit/trace.h"

int main()
{
    return sockit_strerror(-SOCKIT_EEMPTY) == nullptr; // linked with C linkage
}
