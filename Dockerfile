# syntax=docker/dockerfile:1
# The stormscope image: one binary (the browser UI is embedded in it) for every role of the
# Helm chart: collector, app, probe and the `helm test` check. Non-root, on distroless.
#
# It rebuilds with no network once the two base images are in the local image store: the
# dependencies are vendored in the `vendor` stage (from crates.io, or from a ./vendor folder
# passed in the build context when registries are down: docs/offline-build.md), and the
# compile stage runs `cargo build --offline`. Base images are pinned by digest, so a rebuild
# gets the same toolchain and runtime libraries.
ARG RUST_IMAGE=rust:1.95-slim-bookworm@sha256:d7482085ff5b415f84dba5647ae71606650bdef00db7aeb69f4b3d170c3e4082
ARG RUNTIME_IMAGE=gcr.io/distroless/cc-debian12:nonroot@sha256:9dac0a79194e45a7da0158a9c6da57b217585af0786db3845d1f0ec1a0dd182f

FROM ${RUST_IMAGE} AS vendor
WORKDIR /src
COPY . .
# The only step that may use the network. `cargo vendor` writes the source replacement that
# the offline build needs; the vendor folder itself is never committed (.gitignore).
RUN mkdir -p .cargo \
    && if [ -d vendor ]; then \
        echo "using the vendor/ folder of the build context"; \
    else \
        cargo vendor --locked vendor > /dev/null; \
    fi \
    && printf '%s\n' \
        '[source.crates-io]' \
        'replace-with = "vendored-sources"' \
        '' \
        '[source.vendored-sources]' \
        'directory = "vendor"' \
        > .cargo/config.toml

FROM ${RUST_IMAGE} AS build
WORKDIR /src
COPY --from=vendor /src /src
ENV CARGO_NET_OFFLINE=true
RUN cargo build --release --locked --offline --bin stormscope \
    && cp target/release/stormscope /stormscope

FROM ${RUNTIME_IMAGE}
COPY --from=build /stormscope /usr/local/bin/stormscope
# distroless's nonroot user; the chart's securityContext runs it as this uid too.
USER 65532:65532
EXPOSE 4040 4041
ENTRYPOINT ["/usr/local/bin/stormscope"]
CMD ["--help"]
