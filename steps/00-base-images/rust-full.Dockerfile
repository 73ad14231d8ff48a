# rust:<version>-<suite> (the "full" variant) is the slim toolchain plus the
# build dependencies of buildpack-deps: compilers, VCS clients and common -dev
# libraries. That is why it weighs more than a gigabyte.
ARG BASE
FROM ${BASE}

RUN set -eux; \
    apt-get update; \
    apt-get install -y --no-install-recommends \
        ca-certificates curl gnupg netbase sq wget \
        git mercurial openssh-client subversion procps \
        autoconf automake bzip2 default-libmysqlclient-dev dpkg-dev file g++ gcc \
        imagemagick libbz2-dev libc6-dev libcurl4-openssl-dev libdb-dev libevent-dev \
        libffi-dev libgdbm-dev libglib2.0-dev libgmp-dev libjpeg-dev libkrb5-dev \
        liblzma-dev libmagickcore-dev libmagickwand-dev libmaxminddb-dev libncurses-dev \
        libpng-dev libpq-dev libreadline-dev libsqlite3-dev libssl-dev libtool \
        libwebp-dev libxml2-dev libxslt1-dev libyaml-dev make patch unzip xz-utils \
        zlib1g-dev; \
    rm -rf /var/lib/apt/lists/*
