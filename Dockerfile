# One image for the node and for authctl:
#   docker run IMAGE                                         -> node packages/node/dist/main.js (configured by env, DESIGN §5)
#   docker run IMAGE authctl status -h node1 -p 7070         -> the CLI (also: node packages/client/dist/cli.js)

FROM node:20-bookworm-slim AS build
WORKDIR /app
ENV CI=true
# Manifests first, so the dependency layer is reused while only sources change.
COPY package.json pnpm-lock.yaml pnpm-workspace.yaml .npmrc tsconfig.base.json ./
COPY packages/protocol/package.json packages/protocol/
COPY packages/node/package.json packages/node/
COPY packages/client/package.json packages/client/
COPY packages/testkit/package.json packages/testkit/
RUN npx -y pnpm@10 install --frozen-lockfile
COPY packages packages
COPY scripts scripts
RUN npx -y pnpm@10 build

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production \
    AUTHCACHE_HOST=0.0.0.0 \
    AUTHCACHE_PORT=7070
COPY --from=build /app /app
RUN printf '#!/bin/sh\nexec node /app/packages/client/dist/cli.js "$@"\n' > /usr/local/bin/authctl \
 && chmod +x /usr/local/bin/authctl
USER node
EXPOSE 7070
CMD ["node", "packages/node/dist/main.js"]
