# bench/lib/nginx.sh — sourced by benchmarks that set Trove beside nginx
# serving the same bytes as static files: the same machine's ceiling for
# an HTTP request and its answer.
#
#   nginx_start ROOT [PIN...]  nginx with one worker on a free loopback
#                              port, started through PIN (e.g. taskset -c
#                              0); sets NGINX_PORT and NGINX_PID. Keep-alive
#                              without a request limit, no access log,
#                              sendfile. The server block serves ROOT/html
#                              unless NGINX_SERVER holds its contents;
#                              NGINX_HTTP adds directives to the http block.
#   nginx_stop                 stops it (also safe when never started)
#   http_wait URL              waits up to 10 s for any HTTP answer at URL
# ROOT must exist; nginx's logs and temporary files go under ROOT/nginx.

nginx_bin() {
	local n=/usr/sbin/nginx
	[ -x "$n" ] || n=$(command -v nginx) || return 1
	echo "$n"
}

nginx_start() { # ROOT [PIN...]
	local root=$1 bin temp_paths m
	shift
	bin=$(nginx_bin) || {
		echo "bench: ERROR: nginx not found (package nginx-light)" >&2
		return 1
	}
	NGINX_PORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	mkdir -p "$root/html" "$root/nginx/logs" "$root/nginx/tmp"
	temp_paths="client_body_temp_path $root/nginx/tmp/body;"
	for m in proxy fastcgi uwsgi scgi; do
		if ! "$bin" -V 2>&1 | grep -q -- "--without-http_${m}_module"; then
			temp_paths="$temp_paths ${m}_temp_path $root/nginx/tmp/$m;"
		fi
	done
	# nginx's worker drops privileges: let it read the files.
	chmod -R a+rX "$root"
	cat >"$root/nginx/nginx.conf" <<EOF
worker_processes 1;
pid $root/nginx/nginx.pid;
error_log $root/nginx/logs/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_timeout 65;
    keepalive_requests 100000000;
    default_type application/json;
    $temp_paths
    ${NGINX_HTTP:-}
    server {
        listen 127.0.0.1:$NGINX_PORT;
        ${NGINX_SERVER:-root $root/html; add_header Cache-Control no-store;}
    }
}
EOF
	"$@" "$bin" -p "$root/nginx" -c "$root/nginx/nginx.conf" -g 'daemon off; master_process on;' \
		>"$root/nginx/logs/stdout" 2>&1 &
	NGINX_PID=$!
	http_wait "http://127.0.0.1:$NGINX_PORT/" && return 0
	cat "$root/nginx/logs/error.log" "$root/nginx/logs/stdout" >&2
	echo "bench: ERROR: nginx did not start" >&2
	return 1
}

http_wait() { # URL
	local i
	for i in $(seq 1 200); do
		if /usr/bin/python3 - "$1" <<'EOF' 2>/dev/null; then
import sys, urllib.request, urllib.error
try:
    urllib.request.urlopen(sys.argv[1], timeout=1)
except urllib.error.HTTPError:
    pass
EOF
			return 0
		fi
		sleep 0.05
	done
	return 1
}

nginx_stop() {
	if [ -n "${NGINX_PID:-}" ]; then
		kill "$NGINX_PID" 2>/dev/null || true
		wait "$NGINX_PID" 2>/dev/null || true
		NGINX_PID=
	fi
}
