import {
  Body,
  Controller,
  Headers,
  HttpCode,
  Param,
  Post,
  Req,
  Res,
  StreamableFile,
} from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import type { ServerResponse } from 'node:http';
import type { Actor } from '../../identity/actor';
import { HttpQueryService } from '../../query/http-query.service';
import type { QueryResultView, TransactionResultView } from '../../query/result-collector';
import { Authenticated } from '../auth/access.decorators';
import { CurrentActor } from '../auth/current-actor.decorator';
import { abortedOnHangUp } from '../common/http';
import { losslessJsonBody, type JsonRequest } from '../common/json-body';
import { NDJSON, QueryDocs } from './query.docs';
import { parseQueryRequest, wantsNdjson } from './query.requests';

@ApiTags('query')
@Authenticated()
@Controller('databases/:owner/:name/query')
export class QueryController {
  constructor(private readonly queries: HttpQueryService) {}

  @Post()
  @HttpCode(200)
  @QueryDocs()
  async run(
    @CurrentActor() actor: Actor,
    @Param('owner') owner: string,
    @Param('name') name: string,
    @Body() body: unknown,
    @Req() request: JsonRequest,
    @Headers('accept') accept: string | undefined,
    @Res({ passthrough: true }) response: ServerResponse,
  ): Promise<QueryResultView | TransactionResultView | StreamableFile> {
    // Parsed again losslessly: numeric parameters are bound exactly as written.
    const query = parseQueryRequest(losslessJsonBody(request, body));
    const hangUp = abortedOnHangUp(response);
    if (!wantsNdjson(accept)) return this.queries.execute(actor, owner, name, query, hangUp);
    const stream = await this.queries.stream(actor, owner, name, query, hangUp);
    return new StreamableFile(stream, { type: `${NDJSON}; charset=utf-8` });
  }
}
