import { HttpException, HttpStatus } from '@nestjs/common';

/** 429 with the seconds to wait, which ErrorsFilter sends as Retry-After. */
export class TooManyRequestsException extends HttpException {
  constructor(readonly retryAfterSeconds: number) {
    super('too many failed logins; try again later', HttpStatus.TOO_MANY_REQUESTS);
  }
}
