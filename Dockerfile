# One image for the node, authctl and the compose demo, built once (docker-compose.yml builds it
# for node1 and the other services reuse the tag):
#   docker run IMAGE                                   -> the node (configured by env, README "Configuration")
#   docker run IMAGE authctl -h node1 -p 7070 status   -> the CLI
#
# Two stages: the build stage has the dev dependencies (TypeScript, jest, testcontainers...); the
# runtime stage gets only what `pnpm deploy --prod` copies for the node and the client: their dist/
# and their production dependencies.

FROM node:20-bookworm-slim AS build
WORKDIR /app
ENV CI=true
# The pnpm of package.json's packageManager, installed once (npx -y would fetch it at every RUN).
RUN npm install -g pnpm@10.34.9
# Manifests first, so the dependency layer is reused while only sources change.
COPY package.json pnpm-lock.yaml pnpm-workspace.yaml .npmrc tsconfig.base.json ./
COPY packages/protocol/package.json packages/protocol/
COPY packages/node/package.json packages/node/
COPY packages/client/package.json packages/client/
COPY packages/testkit/package.json packages/testkit/
RUN pnpm install --frozen-lockfile
COPY packages packages
RUN pnpm build
# --legacy: pnpm 10's deploy otherwise needs inject-workspace-packages for the whole workspace.
RUN pnpm --filter @authcache/node deploy --legacy --prod /out/packages/node \
 && pnpm --filter @authcache/client deploy --legacy --prod /out/packages/client

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production \
    AUTHCACHE_HOST=0.0.0.0 \
    AUTHCACHE_PORT=7070
# Owned by root and not writable by the user the node runs as: the process cannot alter its code.
COPY --from=build /out/packages /app/packages
COPY scripts/demo-compose.mjs scripts/healthcheck.mjs /app/scripts/
RUN printf '#!/bin/sh\nexec node /app/packages/client/dist/cli.js "$@"\n' > /usr/local/bin/authctl \
 && chmod 0755 /usr/local/bin/authctl
# The image's own unprivileged user (uid 1000), never root.
USER node
EXPOSE 7070
HEALTHCHECK --interval=5s --timeout=3s --start-period=10s --retries=12 CMD ["node", "/app/scripts/healthcheck.mjs"]
CMD ["node", "/app/packages/node/dist/main.js"]
