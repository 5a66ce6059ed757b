# syntax=docker/dockerfile:1
# The Covenant control plane (docs/operations.md#container-image):
#   docker build -t covenant .
#   docker run -d -p 127.0.0.1:7800:7800 -v covenant-data:/var/lib/covenant covenant
# Options after the image name are added to `covenant serve` and win over the
# configuration file (/etc/covenant/covenant.json; mount your own to replace it).

# Build: better-sqlite3 compiles from source (python3, make, g++), and `npm ci` builds
# dist/ (the prepare script); the dev dependencies are then pruned.
FROM node:20-bookworm-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/covenant
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY bin ./bin
COPY src ./src
COPY bench ./bench
RUN npm ci && npm prune --omit=dev

# Run: no compiler, no dev dependencies, not root.
FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    COVENANT_HOME=/var/lib/covenant/home
WORKDIR /opt/covenant
COPY --from=build /opt/covenant/package.json ./
COPY --from=build /opt/covenant/node_modules ./node_modules
COPY --from=build /opt/covenant/dist/src ./dist/src
COPY --from=build /opt/covenant/bin ./bin
COPY docs ./docs
COPY deploy/container.json /etc/covenant/covenant.json
# The image's node user (uid 1000) owns the data directory; keys are made there at the
# first start (and the first admin's key in COVENANT_HOME: docs/operations.md#container-image).
RUN ln -s /opt/covenant/bin/covenant.js /usr/local/bin/covenant \
 && mkdir -p /var/lib/covenant \
 && chown node:node /var/lib/covenant \
 && chmod 0700 /var/lib/covenant
USER node
VOLUME ["/var/lib/covenant"]
EXPOSE 7800
# No curl in the slim image: node itself asks /healthz.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:7800/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["covenant", "serve", "--config", "/etc/covenant/covenant.json"]
