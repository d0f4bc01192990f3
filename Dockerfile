# sluice in a container: built in a Debian 12 stage with the same `make`
# the README uses, run from a slim Debian 12 image as a non-root user.
#
#   docker build -t sluice .
#   docker run -p 6432:6432 -v $PWD/my.ini:/etc/sluice/sluice.ini:ro sluice
#   docker run --rm --entrypoint sluicectl sluice -h HOST status

FROM debian:12 AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential pkg-config libevent-dev libssl-dev libpq-dev liburing-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Makefile ./
COPY include ./include
COPY src ./src
COPY test/lib ./test/lib
RUN make sluice sluicectl

FROM debian:12-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends libevent-2.1-7 libevent-core-2.1-7 libevent-extra-2.1-7 liburing2 libssl3 libpq5 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --no-create-home --shell /usr/sbin/nologin sluice \
 && mkdir -p /etc/sluice /run/sluice \
 && chown sluice /run/sluice
COPY --from=build /src/sluice /src/sluicectl /usr/local/bin/
COPY etc/sluice.ini etc/userlist.txt /etc/sluice/
USER sluice
EXPOSE 6432
ENTRYPOINT ["/usr/local/bin/sluice"]
CMD ["/etc/sluice/sluice.ini"]
