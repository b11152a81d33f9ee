import { startShop } from './wiring.js';

// `node dist/server.js`: DATABASE_URL, REDIS_URL, PORT, DURABLE=1 (sessions in Postgres too).
const shop = await startShop({
  databaseUrl: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
  redisUrl: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
  port: Number(process.env.PORT ?? 3000),
  durable: process.env.DURABLE === '1',
});
console.log(`shop on ${shop.url}/products`);
process.once('SIGINT', () => void shop.close());
