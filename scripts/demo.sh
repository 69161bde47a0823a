#!/bin/sh
# make run: the article's exchange, end to end, with sockit as server and client.
#   1. an iterative server on port 8080 that prints what it receives and answers
#      "Hello from server"; 2. a client that sends "Hello from client" and prints the answer;
#   3. the same client with no server: one clear error line, exit status 1.
set -u
SOCKIT=${1:-build/sockit}
PORT=${PORT:-8080}

echo "== server: sockit echo tcp://:$PORT --model iterative --reply 'Hello from server' --show --clients 1"
"$SOCKIT" echo "tcp://:$PORT" --model iterative --reply "Hello from server" --show --clients 1 &
server=$!

# Wait (at most 5 s) until the server listens, without using up its one client.
i=0
until ss -Hltn "sport = :$PORT" 2>/dev/null | grep -q LISTEN; do
    i=$((i + 1))
    if [ $i -gt 50 ] || ! kill -0 $server 2>/dev/null; then
        echo "demo: the server did not start (is port $PORT in use? try PORT=8081 make run)" >&2
        kill $server 2>/dev/null
        exit 1
    fi
    sleep 0.1
done

echo "== client: sockit send tcp://127.0.0.1:$PORT 'Hello from client'"
"$SOCKIT" send "tcp://127.0.0.1:$PORT" "Hello from client"
status=$?
echo
wait $server
[ $status -eq 0 ] || exit $status

echo "== client again, with no server listening (expect one error line, exit 1):"
"$SOCKIT" send "tcp://127.0.0.1:$PORT" "Hello from client"
echo "exit status: $?"
