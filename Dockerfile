# Build a static strait binary, then run it as non-root in an empty image.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN make strait VERSION=container

FROM scratch
COPY --from=build /src/bin/strait /strait
USER 65532:65532
# 9000: gRPC listener of the example config; 9901: admin (health, metrics).
EXPOSE 9000 9901
ENTRYPOINT ["/strait", "serve"]
CMD ["-config", "/etc/strait/strait.yaml"]
