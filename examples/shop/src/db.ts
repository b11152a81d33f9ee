import pg from 'pg';

/** A pg pool that counts the queries it runs, so the demo can report database load per request. */
export interface ShopDb {
  pool: pg.Pool;
  /** Queries run since start. */
  queries: number;
  query<R extends pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>>;
  close(): Promise<void>;
}

/** Opens the shop's database; `schema` keeps the shop's tables apart from anything else there. */
export function openDb(connectionString: string, schema = 'shop'): ShopDb {
  if (!/^[a-z_][a-z0-9_]*$/.test(schema))
    throw new Error(`schema "${schema}" must be a plain lower-case SQL name`);
  const pool = new pg.Pool({ connectionString, max: 10, options: `-c search_path=${schema}` });
  pool.on('error', () => {}); // an idle client lost to a server restart; the next query reconnects
  const db: ShopDb = {
    pool,
    queries: 0,
    query(text, values) {
      db.queries++;
      return pool.query(text, values);
    },
    close: () => pool.end(),
  };
  return db;
}

/** Creates the schema and seeds `products` products in 20 categories, 3 reviews each. Idempotent. */
export async function seed(connectionString: string, schema = 'shop', products = 10_000): Promise<void> {
  const admin = new pg.Client({ connectionString });
  await admin.connect();
  try {
    await admin.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
    await admin.query(`SET search_path = ${schema}`);
    await admin.query(`
      CREATE TABLE IF NOT EXISTS categories (id int PRIMARY KEY, name text NOT NULL);
      CREATE TABLE IF NOT EXISTS products (
        id int PRIMARY KEY, name text NOT NULL, category_id int NOT NULL REFERENCES categories(id),
        price_cents int NOT NULL, stock int NOT NULL);
      CREATE TABLE IF NOT EXISTS reviews (product_id int NOT NULL REFERENCES products(id), stars int NOT NULL);
      CREATE INDEX IF NOT EXISTS reviews_product ON reviews (product_id);
      CREATE INDEX IF NOT EXISTS products_category ON products (category_id, id);`);
    const { rows } = await admin.query<{ n: string }>('SELECT count(*) AS n FROM products');
    if (Number(rows[0]?.n) >= products) return;
    await admin.query('TRUNCATE reviews, products, categories');
    await admin.query(`INSERT INTO categories SELECT g, 'Category ' || g FROM generate_series(1, 20) g`);
    await admin.query(
      `INSERT INTO products SELECT g, 'Product ' || g, 1 + g % 20, 100 + (g * 7919) % 90000, (g * 31) % 50
       FROM generate_series(1, $1::int) g`,
      [products],
    );
    await admin.query(
      `INSERT INTO reviews SELECT 1 + g % $1::int, 1 + (g * 13) % 5 FROM generate_series(0, $1::int * 3 - 1) g`,
      [products],
    );
    await admin.query('ANALYZE');
  } finally {
    await admin.end();
  }
}

/** Drops the shop's schema (tests and the demo clean up after themselves). */
export async function dropSchema(connectionString: string, schema: string): Promise<void> {
  const admin = new pg.Client({ connectionString });
  await admin.connect();
  try {
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  } finally {
    await admin.end();
  }
}
