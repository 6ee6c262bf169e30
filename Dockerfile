# wsinspect in a container: built on Debian 12 with the same steps as the
# README, run on bookworm-slim with only the runtime libraries.
#
#   docker build -t wsinspect .
#   docker run --rm -p 8080:8080 wsinspect --upstream backend:9000
#
# The image runs `wsinspect proxy --config /etc/wsinspect/docker.toml`; flags
# given to `docker run` override the file. ca-certificates is the system store
# a wss:// upstream is verified against (unless --upstream-ca names another).

FROM debian:bookworm AS build
WORKDIR /src
COPY scripts/setup-deps.sh scripts/setup-deps.sh
RUN ./scripts/setup-deps.sh --build-only
COPY . .
RUN cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DWSI_TESTS=OFF -DWSI_BENCH=OFF \
 && cmake --build build -j"$(nproc)" --target wsinspect \
 && strip build/wsinspect

FROM debian:bookworm-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libuv1 libspdlog1.10 libfmt9 libssl3 libtomlplusplus3 libsimdjson14 zlib1g \
      ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --no-create-home --shell /usr/sbin/nologin wsinspect
COPY --from=build /src/build/wsinspect /usr/local/bin/wsinspect
COPY configs/docker.toml /etc/wsinspect/docker.toml
USER wsinspect
EXPOSE 8080
ENTRYPOINT ["wsinspect", "proxy", "--config", "/etc/wsinspect/docker.toml"]
