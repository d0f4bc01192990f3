# sluice in a container, from the same Debian package `make deb` builds:
# the first stage builds it as the README says, the second installs it
# into a slim Debian 12 (its postinst makes the user sluice) and runs
# sluice as that user. doc/packaging.md; test/lint/dockerfile.t lints this
# file and checks it against the Makefile and debian/control.
#
#   docker build -t sluice .
#   docker run -e SLUICE_DATABASE_URL=postgresql://app:secret@db:5432/app -p 6432:6432 sluice
#   docker run -p 6432:6432 -v "$PWD/sluice.ini:/etc/sluice/sluice.ini:ro" sluice /etc/sluice/sluice.ini
#   docker run --rm --entrypoint sluicectl sluice --help

FROM debian:12 AS build
# debian/control's Build-Depends, and what dpkg-buildpackage itself runs
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential debhelper dpkg-dev \
      go-md2man libevent-dev libpq-dev libssl-dev liburing-dev libsystemd-dev perl pkg-config \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# the Makefile's DEB_SRC: the files `make deb` builds the package from
COPY Makefile README.md ./
COPY include ./include
COPY src ./src
COPY doc ./doc
COPY etc ./etc
COPY debian ./debian
RUN make deb

FROM debian:12-slim
COPY --from=build /src/build/deb/sluice_*.deb /tmp/
RUN apt-get update \
 && apt-get install -y --no-install-recommends /tmp/sluice_*.deb \
 && rm -rf /var/lib/apt/lists/* /tmp/sluice_*.deb
USER sluice
EXPOSE 6432
# The one-line start: with no configuration file argument sluice reads
# SLUICE_DATABASE_URL (docker run -e) and pools that database; it listens on
# 127.0.0.1 unless told otherwise, which no one outside the container reaches.
ENTRYPOINT ["/usr/sbin/sluice"]
CMD ["--listen", "0.0.0.0:6432"]
