export * from './sql-lexer';
