// Every public header, compiled as C++17 (extern "C" guards, no C-only syntax), and a call
// linked against the C library: make test builds and runs it.
#include "sockit/bench.h"
#include "sockit/buf.h"
#include "sockit/capture.h"
#include "sockit/classic.h"
#include "sockit/clock.h"
#include "sockit/decode.h"
#include "sockit/dgram.h"
#include "sockit/endpoint.h"
#include "sockit/engine.h"
#include "sockit/error.h"
#include "sockit/hist.h"
#include "sockit/http.h"
#include "sockit/http_files.h"
#include "sockit/loop.h"
#include "sockit/pcap.h"
#include "sockit/ping.h"
#include "sockit/relay.h"
#include "sockit/server.h"
#include "sockit/shared.h"
#include "sockit/socket.h"
#include "sockit/trace.h"
#include "sockit/ws.h"
#include "sockit/ws_server.h"
#include "sockit/chat.h"
#include "sockit/impair.h"
#include "sockit/impair_proxy.h"
#include "sockit/game.h"
#include "sockit/rand.h"

#include <cerrno>

int main()
{
    struct sockit_classic_options o = {};
    struct sockit_classic_handler h = {};

    if (sockit_classic_run(-1, -1, &o, &h, nullptr, nullptr) != -EBADF)
        return 1;
    double loss = 0;
    if (sockit_impair_parse_percent("10%", &loss) != 0)
        return 1;
    return sockit_strerror(-SOCKIT_EEMPTY) == nullptr; // linked with C linkage
}
